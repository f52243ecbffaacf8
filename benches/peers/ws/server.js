// Load-run peer (benches/CARGA.md): the `ws` 8 package doing comanda's
// fan-out over plain WebSockets. Rooms are `Map<sucursal, Set<socket>>`;
// `POST /publicar` encodes the event's JSON text once and sends those same
// bytes, as a text frame, to every socket of the room.
//
// `PORT=9100 node server.js`

"use strict";

const http = require("node:http");
const { WebSocketServer, WebSocket } = require("ws");

const PORT = Number(process.env.PORT ?? 9100);
// A publish body is one short JSON object; anything larger is refused.
const MAX_CUERPO = 64 * 1024;

/** @type {Map<number, Set<WebSocket>>} */
const salas = new Map();
let ultimoId = 0;

const servidor = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/publicar") {
    publicar(req, res);
  } else {
    responder(res, 404, { error: "no encontrado" });
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

function publicar(req, res) {
  const partes = [];
  let largo = 0;
  req.on("data", (parte) => {
    largo += parte.length;
    if (largo <= MAX_CUERPO) {
      partes.push(parte);
    }
  });
  req.on("end", () => {
    if (largo > MAX_CUERPO) {
      responder(res, 413, { error: "cuerpo demasiado grande" });
      return;
    }
    let pedido;
    try {
      pedido = JSON.parse(Buffer.concat(partes).toString("utf8"));
    } catch {
      responder(res, 400, { error: "JSON inválido" });
      return;
    }
    const sucursal = sucursalId(pedido?.sucursal_id);
    if (sucursal === null || typeof pedido.mensaje !== "string") {
      responder(res, 400, { error: "se espera {\"sucursal_id\": K, \"mensaje\": M}" });
      return;
    }
    const id = ++ultimoId;
    const texto = JSON.stringify({
      type: "evento",
      id,
      tipo: "alerta_cocina",
      sucursal_id: sucursal,
      payload: { mensaje: pedido.mensaje },
    });
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
    responder(res, 201, { id });
  });
}

// A sucursal id is a non-negative integer, given as a number (publish body)
// or as its decimal text (socket query); anything else is refused.
function sucursalId(valor) {
  if (typeof valor === "string" && /^[0-9]{1,15}$/.test(valor)) {
    return Number(valor);
  }
  if (Number.isSafeInteger(valor) && valor >= 0) {
    return valor;
  }
  return null;
}

function responder(res, estado, cuerpo) {
  const texto = JSON.stringify(cuerpo);
  res.writeHead(estado, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(texto),
  });
  res.end(texto);
}

servidor.listen(PORT, () => {
  console.log(`escuchando en ${servidor.address().port}`);
});
