#!/usr/bin/env node
// A remote API client on Node's ws (Debian node-ws), as the manual's ws.js:
//   node api_client.js HOST:PORT [PASSWORD]
// Connects with an Origin (the manual requires one), answers com_auth's
// challenge with res = HMAC-SHA256("IMS:<password>:<name>", challenge)
// computed here, runs the manual's examples and prints every message it
// receives, one JSON a line. Exit status 1 on a connection error.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');

const [addr, password] = process.argv.slice(2);
const ws = new WebSocket('ws://' + addr + '/', { origin: 'http://node-test' });
const script = [
  { message: 'config_get', message_id: 'foo' },
  { message: 'bar', message_id: 'foo-bar' },
  { message: 'help', message_id: 'help' },
  { message: 'users_get', message_id: 'users' },
];
let pending = 0;

function send(m) {
  pending++;
  ws.send(JSON.stringify(m));
}

ws.on('message', (data) => {
  const m = JSON.parse(data.toString());
  if (m.message_id === 'foo-bar')
    m.message_id = 'bar'; // the example's id, kept apart from config_get's
  console.log(JSON.stringify(m));
  if (m.message === 'authenticate' && m.challenge && !m.message_id) {
    const res = crypto.createHmac('sha256', m.type + ':' + password + ':' + m.name)
      .update(m.challenge).digest('hex');
    send({ message: 'authenticate', res: res, message_id: 'auth' });
    return;
  }
  if (m.message === 'ready' || (m.message_id === 'auth' && m.ready)) {
    if (m.message_id === 'auth')
      pending--;
    script.forEach(send);
    return;
  }
  if (m.message_id !== undefined && --pending === 0)
    ws.close();
});
ws.on('error', (e) => {
  console.error('error: ' + e.message);
  process.exit(1);
});
ws.on('close', () => process.exit(0));
setTimeout(() => { console.error('timeout'); process.exit(1); }, 30000);
