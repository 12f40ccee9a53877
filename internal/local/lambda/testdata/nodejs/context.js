exports.handler = async (event, context) => ({
  env: Object.fromEntries(event.env.map((name) => [name, process.env[name] ?? null])),
  context: {
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memoryLimitInMB: context.memoryLimitInMB,
    invokedFunctionArn: context.invokedFunctionArn,
    logGroupName: context.logGroupName,
    remainingTimeWithinTimeout: context.getRemainingTimeInMillis() > 0 && context.getRemainingTimeInMillis() <= 30000,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
  },
  cwd: process.cwd(),
});
