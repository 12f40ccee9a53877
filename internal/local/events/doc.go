// Package events makes the event sources of `stackflow local` fire: SQS
// and DynamoDB stream event source mappings, SNS subscriptions, S3
// notifications, EventBridge rules and EventBridge Scheduler schedules
// that invoke Lambda functions run by internal/local/lambda in kumo.
package events
