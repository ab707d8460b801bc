// Reads [{name, text, params}] as JSON on stdin; writes [{name, severity, message, offset}].
// Severity 1 is an error, 2 a warning (LSP DiagnosticSeverity).
import { lintCypherQuery } from '@neo4j-cypher/language-support';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const queries = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const out = [];
for (const q of queries) {
  const { diagnostics } = lintCypherQuery(q.text, { parameters: q.params });
  for (const d of diagnostics) {
    out.push({ name: q.name, severity: d.severity, message: d.message, offset: d.offsets?.start ?? null });
  }
}
process.stdout.write(JSON.stringify(out));
