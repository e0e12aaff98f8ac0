/**
 * The approval card (MCP Apps, `io.modelcontextprotocol/ui`): hosts that render MCP Apps show it
 * beside submit_decision's result. It shows where the batch stands and sends the human to the
 * console page of the batch, where they confirm in their own session. The card itself cannot
 * confirm anything: it calls no tool, and nothing in it (or anything the model could send
 * through it) is a confirmation. Plain script, no network, no framework.
 */
export const APPROVAL_CARD_URI = 'ui://attest/approval-card.html';
export const MCP_APP_MIME = 'text/html;profile=mcp-app';

export const APPROVAL_CARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Attest: confirm a batch</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px;color:#1d2430}
h1{font-size:15px;margin:0 0 6px}.note{color:#555;font-size:12px}
button{font:inherit;padding:6px 12px;border-radius:4px;border:1px solid #1b6e34;background:#1b6e34;color:#fff;cursor:pointer}
code{font-family:ui-monospace,monospace;background:#f1f3f6;padding:1px 4px;border-radius:3px;word-break:break-all}
</style></head>
<body>
<h1 id="title">Attest</h1>
<p id="status">Waiting for the result of submit_decision…</p>
<p id="where"></p>
<p class="note">This card cannot confirm decisions. A human confirms in the Attest console, signed in as themselves, or at the terminal of the machine that runs Attest.</p>
<script>
(function () {
  var next = 1, waiting = {};
  function send(m) { window.parent.postMessage(m, '*'); }
  function request(method, params) {
    var id = next++;
    send({ jsonrpc: '2.0', id: id, method: method, params: params });
    return new Promise(function (resolve) { waiting[id] = resolve; });
  }
  function text(id, value) { document.getElementById(id).textContent = value; }
  function render(result) {
    var s = (result && result.structuredContent) || {};
    var c = s.confirmation || null;
    var n = Array.isArray(s.results) ? s.results.length : 0;
    text('title', 'Attest: ' + n + ' decision(s), ' + String(s.status || 'unknown'));
    text('status', String(s.message || ''));
    var where = document.getElementById('where');
    where.textContent = '';
    if (!c || s.status !== 'awaiting_confirmation') return;
    if (c.url) {
      var b = document.createElement('button');
      b.id = 'open';
      b.textContent = 'Review and confirm in the console';
      b.addEventListener('click', function () { request('ui/open-link', { url: String(c.url) }); });
      where.appendChild(b);
    } else if (c.command) {
      where.appendChild(document.createTextNode('Run in a terminal on the machine that runs Attest: '));
      var code = document.createElement('code');
      code.textContent = String(c.command);
      where.appendChild(code);
    }
  }
  window.addEventListener('message', function (e) {
    var m = e.data;
    if (!m || m.jsonrpc !== '2.0') return;
    if (m.id !== undefined && waiting[m.id]) { waiting[m.id](m); delete waiting[m.id]; return; }
    if (m.method === 'ui/notifications/tool-result') render(m.params);
  });
  request('ui/initialize', {
    protocolVersion: '2026-01-26',
    appInfo: { name: 'attest-approval-card', version: '1.0.0' },
    appCapabilities: {}
  }).then(function () { send({ jsonrpc: '2.0', method: 'ui/notifications/initialized', params: {} }); });
})();
</script>
</body></html>
`;
