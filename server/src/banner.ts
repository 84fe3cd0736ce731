import type { RunningServer } from './main';

/** The human part of `npm start`: where to point a browser, and the demo credentials. */
export function printBanner(server: RunningServer): void {
  const lines = [
    '',
    `  Parley is running at ${server.url}`,
    '',
    `  Open ${server.url}/ in a browser.`,
    `  Health: ${server.url}/healthz   Readiness: ${server.url}/readyz   Metrics: ${server.url}/metrics`,
  ];
  if (server.demo) {
    lines.push(
      '',
      `  Demo project: ${server.demo.projectName} (id ${server.demo.projectId})`,
      `  Demo agent:   ${server.demo.agentEmail} / ${server.demo.agentPassword}`,
      `  Try the visitor widget at ${server.url}/demo/widget.html?project=${server.demo.projectId}`,
      `  and answer from the agent console at ${server.url}/demo/console.html`,
      `  (kept in ${server.config.dataDir}/demo-credentials.json)`,
    );
  }
  lines.push('');
  process.stdout.write(`${lines.join('\n')}\n`);
}
