// The HTTP side both Node peers share (benches/CARGA.md): `POST /publicar`
// `{"sucursal_id": K, "mensaje": M}` builds the event's JSON text once, hands
// it to the peer's own fan-out, and answers `201 {"id": N}`; anything else
// is 404. Only the fan-out differs between peers.

"use strict";

const http = require("node:http");

// A publish body is one short JSON object; anything larger is refused.
const MAX_CUERPO = 64 * 1024;

let ultimoId = 0;

/**
 * An HTTP server for `/publicar` that calls `difundir(sucursal, texto)`.
 * @param {(sucursal: number, texto: string) => void} difundir
 */
function servidorDePublicacion(difundir) {
  return http.createServer((req, res) => {
    if (req.method === "POST" && req.url === "/publicar") {
      publicar(req, res, difundir);
    } else {
      responder(res, 404, { error: "no encontrado" });
    }
  });
}

function publicar(req, res, difundir) {
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
    difundir(sucursal, texto);
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

/** Listens on `PORT` (9100) and says so on stdout. */
function escuchar(servidor) {
  const puerto = Number(process.env.PORT ?? 9100);
  servidor.listen(puerto, () => {
    console.log(`escuchando en ${servidor.address().port}`);
  });
}

module.exports = { servidorDePublicacion, sucursalId, escuchar };
