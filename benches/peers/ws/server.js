// Load-run peer (benches/CARGA.md): the `ws` 8 package doing comanda's
// fan-out over plain WebSockets. Rooms are `Map<sucursal, Set<socket>>`;
// `POST /publicar` (../publicacion.js) encodes the event's JSON text once and
// sends those same bytes, as a text frame, to every socket of the room.
//
// `PORT=9100 node server.js`

"use strict";

const { WebSocketServer, WebSocket } = require("ws");
const { servidorDePublicacion, sucursalId, escuchar } = require("../publicacion.js");

/** @type {Map<number, Set<WebSocket>>} */
const salas = new Map();

const servidor = servidorDePublicacion((sucursal, texto) => {
  // Encoded once: a string would be UTF-8 encoded again for every socket.
  const bytes = Buffer.from(texto, "utf8");
  const sala = salas.get(sucursal);
  if (sala !== undefined) {
    for (const ws of sala) {
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(bytes, { binary: false });
      }
    }
  }
});

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

servidor.on("upgrade", (req, socket, cabeza) => {
  const url = new URL(req.url, "http://localhost");
  const sucursal = sucursalId(url.searchParams.get("sucursal"));
  if (url.pathname !== "/ws" || sucursal === null) {
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    return;
  }
  wss.handleUpgrade(req, socket, cabeza, (ws) => unir(ws, sucursal));
});

function unir(ws, sucursal) {
  let sala = salas.get(sucursal);
  if (sala === undefined) {
    sala = new Set();
    salas.set(sucursal, sala);
  }
  sala.add(ws);
  ws.on("error", () => ws.terminate());
  ws.on("close", () => {
    sala.delete(ws);
    if (sala.size === 0 && salas.get(sucursal) === sala) {
      salas.delete(sucursal);
    }
  });
}

escuchar(servidor);
