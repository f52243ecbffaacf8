// Load-run peer (benches/CARGA.md): Socket.IO 4.8 doing comanda's fan-out.
// One room per sucursal; `POST /publicar` builds the event's JSON text once
// and emits it to the room as the Socket.IO event `evento`.
//
// `PORT=9100 node server.js`

"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const PORT = Number(process.env.PORT ?? 9100);
// A publish body is one short JSON object; anything larger is refused.
const MAX_CUERPO = 64 * 1024;

let ultimoId = 0;

const servidor = http.createServer((req, res) => {
  if (req.method === "POST" && req.url === "/publicar") {
    publicar(req, res);
  } else {
    responder(res, 404, { error: "no encontrado" });
  }
});

const io = new Server(servidor, {
  transports: ["websocket"],
  perMessageDeflate: false,
  serveClient: false,
});

io.on("connection", (socket) => {
  const sucursal = sucursalId(socket.handshake.query.sucursal);
  if (sucursal === null) {
    socket.disconnect(true);
    return;
  }
  socket.join(String(sucursal));
});

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
    io.to(String(sucursal)).emit("evento", texto);
    responder(res, 201, { id });
  });
}

// A sucursal id is a non-negative integer, given as a number (publish body)
// or as its decimal text (handshake query); anything else is refused.
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
