// Reference peer for the benchmarks: a WebSocket broadcast server on the npm
// `ws` package. One room, the JSON shapes of Switchboard's gateway: `say` ->
// `message` to everyone (sender included), `private` -> the named user only.
// Usage: PORT=8090 node ws-server.js   (the name comes from `?name=`).
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT || 8090), maxPayload: 16384 });
const users = new Map();
wss.on('connection', (ws, req) => {
  const name = new URL(req.url, 'http://peer').searchParams.get('name') || 'anon';
  users.set(name, ws);
  ws.send('{"type":"welcome"}'); // registered: the next broadcast reaches us
  ws.on('message', (data) => {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.type === 'say') {
      const out = JSON.stringify({ type: 'message', from: name, text: msg.text });
      for (const peer of wss.clients) if (peer.readyState === 1) peer.send(out);
    } else if (msg.type === 'private' && users.has(msg.to)) {
      users.get(msg.to).send(JSON.stringify({ type: 'private', from: name, to: msg.to, text: msg.text }));
    }
  });
  ws.on('close', () => { if (users.get(name) === ws) users.delete(name); });
});
