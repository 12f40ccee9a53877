// Package bitbucket is stackflow's adapter for Bitbucket Cloud.
//
// It has three parts, kept apart:
//
//   - verification of webhook deliveries (VerifySignature), which looks only
//     at the raw body and the X-Hub-Signature header;
//   - typed webhook events (ParseEvent), which are parsed only after the
//     delivery was verified;
//   - an API client (Client) that downloads a commit's source archive,
//     resolves the abbreviated commit hashes of pull-request events to full
//     ones and reports build statuses on commits, with credentials sent only
//     in the Authorization header.
//
// Errors never carry a token, a secret or a signature.
package bitbucket
