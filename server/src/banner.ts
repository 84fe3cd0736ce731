import type { RunningServer } from './main';

/** The human part of `npm start`: where to point a browser, and the demo credentials. */
export function printBanner(server: RunningServer): void {
  // Behind a proxy, browsers reach the server at PUBLIC_URL, not at the address it listens on.
  const url = server.config.publicUrl?.replace(/\/+$/, '') ?? server.url;
  const lines = [
    '',
    `  Parley is running at ${url}${url === server.url ? '' : ` (listening on ${server.url})`}`,
    '',
    `  Open ${url}/ in a browser.`,
    `  Health: ${url}/healthz   Readiness: ${url}/readyz   Metrics: ${url}/metrics`,
  ];
  if (server.demo) {
    lines.push(
      '',
      `  Demo project: ${server.demo.projectName} (id ${server.demo.projectId})`,
      `  Demo agent:   ${server.demo.agentEmail} / ${server.demo.agentPassword}`,
      `  Try the visitor widget at ${url}/demo/widget.html?project=${server.demo.projectId}`,
      `  and answer from the agent console at ${url}/demo/console.html`,
      `  (kept in ${server.config.dataDir}/demo-credentials.json)`,
    );
  }
  lines.push('');
  process.stdout.write(`${lines.join('\n')}\n`);
}
