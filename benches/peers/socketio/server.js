// Load-run peer (benches/CARGA.md): Socket.IO 4.8 doing comanda's fan-out.
// One room per sucursal; `POST /publicar` (../publicacion.js) builds the
// event's JSON text once and emits it to the room as the Socket.IO event
// `evento`.
//
// `PORT=9100 node server.js`

"use strict";

const { Server } = require("socket.io");
const { servidorDePublicacion, sucursalId, escuchar } = require("../publicacion.js");

const servidor = servidorDePublicacion((sucursal, texto) => {
  io.to(String(sucursal)).emit("evento", texto);
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

escuchar(servidor);
