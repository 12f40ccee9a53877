// Runs the evaluator's table (cases.json on stdin) through
// @cloud-copilot/iam-simulate and prints one line of JSON per case:
// {"name", "result"} or {"name", "error"}.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const c of process.stdin) chunks.push(c)
const cases = JSON.parse(Buffer.concat(chunks).toString())
for (const c of cases) {
  const acct = c.principal.startsWith('arn:') ? c.principal.split(':')[4] : undefined
  const simulation = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.resourceAccount || acct },
      contextVariables: Object.fromEntries(Object.entries(c.context || {}).map(([k, v]) => [k, v.length === 1 ? v[0] : v]))
    },
    identityPolicies: (c.identity || []).map((p, i) => ({ name: `policy${i}`, policy: p })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: c.resourcePolicy
  }
  try {
    const r = await runSimulation(simulation, {})
    if (r.resultType === 'error') {
      console.log(JSON.stringify({ name: c.name, error: r.errors }))
    } else {
      console.log(JSON.stringify({ name: c.name, result: r.overallResult }))
    }
  } catch (e) {
    console.log(JSON.stringify({ name: c.name, error: String(e) }))
  }
}
