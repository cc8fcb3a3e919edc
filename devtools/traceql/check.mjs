// Parses TraceQL queries with Grafana's grammar: JSON array of strings on stdin, JSON out.
import { parser } from "@grafana/lezer-traceql";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const queries = JSON.parse(Buffer.concat(chunks).toString("utf8"));

// One result per query: every error node (lezer marks unparsable input with ⚠) and where it is.
const results = queries.map((query) => {
  const errors = [];
  parser.parse(query).iterate({
    enter(node) {
      if (node.type.isError) {
        errors.push({ from: node.from, to: node.to, near: query.slice(node.from, node.from + 20) });
      }
    },
  });
  return { query, errors };
});
process.stdout.write(JSON.stringify(results));
