// Atención: pedidos pendientes (con su contador), vouchers por revisar,
// alertas a cocina (y si cocina ya las leyó), reposiciones y pedidos de tienda.

import { api } from "./api.js";
import {
  $,
  crear,
  vaciar,
  hora,
  soles,
  iniciarPagina,
  cargarSucursales,
  insertarOrdenado,
  avisar,
  ETIQUETA_PRIORIDAD,
} from "./comun.js";
import { conectar, cargarConReintentos } from "./tiempo-real.js";
import * as sonido from "./sonido.js";

const DEMORA_MS = 3 * 60 * 1000; // una alerta sin leer más de 3 min: «demorada»
const MAX_ENVIADAS = 50;

const usuario = await cargarConReintentos(() => iniciarPagina(["atencion", "admin", "superadmin"]));
const sucursales = await cargarConReintentos(cargarSucursales);
const sinSucursal = usuario.sucursal_id === null || usuario.sucursal_id === undefined;
if (!sinSucursal) $("sucursal-nombre").textContent = sucursales.get(usuario.sucursal_id) || "";

const listaPedidos = $("pedidos");
const listaVouchers = $("vouchers");
const listaEnviadas = $("alertas-enviadas");
const pedidos = new Map(); // id → { id, li, boton, error }
const vouchers = new Map(); // id → { id, numero, li, ... }
const enviadas = new Map(); // id → { id, datos, li, ... }
let cargado = false;
let conectado = false;

const nombreSucursal = (id) => sucursales.get(id) || `Sucursal ${id}`;
const porId = (desc) => (a, b) => {
  const x = Number(a.dataset.id);
  const y = Number(b.dataset.id);
  return desc ? x > y : x < y;
};

// ── Contador de pendientes ──────────────────────────────────────────────────

const badge = $("badge-pendientes");

function pintarPendientes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return;
  badge.textContent = String(n);
  badge.dataset.pendientes = String(n);
  badge.classList.toggle("cero", n === 0);
  document.title = `${n > 0 ? `(${n}) ` : ""}Atención — comanda · Cony Chips`;
}

function avisarPedidoNuevo() {
  badge.classList.add("nuevo");
  $("badge-pendientes-boton").classList.add("nuevo");
  sonido.tono("pedido");
}

function darPorVisto() {
  badge.classList.remove("nuevo");
  $("badge-pendientes-boton").classList.remove("nuevo");
}

$("badge-pendientes-boton").addEventListener("click", darPorVisto);

// ── Pedidos pendientes ──────────────────────────────────────────────────────

function ponerPedido(p) {
  const id = Number(p.id);
  if (p.estado && p.estado !== "PENDIENTE") {
    quitarPedido(id);
    return;
  }
  if (pedidos.has(id)) return;
  const error = crear("p", { clase: "error-form", atributos: { role: "alert", hidden: true } });
  const boton = crear("button", {
    clase: "boton primario aprobar",
    texto: "Aprobar",
    atributos: { type: "button" },
    al: { click: () => aprobarPedido(id) },
  });
  const li = crear(
    "li",
    { clase: "pedido", datos: { id, estado: p.estado || "PENDIENTE" } },
    crear(
      "div",
      { clase: "pedido-cabecera" },
      crear("span", { clase: "pedido-id", texto: `#${id}` }),
      p.origen
        ? crear("span", {
            clase: ["pedido-origen", `origen-${p.origen}`],
            texto: p.origen === "whatsapp" ? "WhatsApp" : "Tienda",
          })
        : null,
      sinSucursal && p.sucursal_id ? crear("span", { clase: "pedido-sucursal", texto: nombreSucursal(p.sucursal_id) }) : null,
      p.creado ? crear("span", { clase: "pedido-hora", texto: hora(p.creado) }) : null,
    ),
    crear("p", { clase: "pedido-cliente", texto: p.cliente || "" }),
    p.detalle ? crear("p", { clase: "pedido-detalle", texto: p.detalle }) : null,
    crear("div", { clase: "pedido-pie" }, crear("span", { clase: "pedido-total", texto: soles(p.total) }), boton),
    error,
  );
  pedidos.set(id, { id, li, boton, error });
  insertarOrdenado(listaPedidos, li, porId(false));
  pintarVacios();
}

function quitarPedido(id) {
  const p = pedidos.get(Number(id));
  if (!p) return;
  p.li.remove();
  pedidos.delete(Number(id));
  pintarVacios();
}

async function aprobarPedido(id) {
  const p = pedidos.get(id);
  if (!p) return;
  p.boton.disabled = true;
  p.boton.textContent = "Aprobando…";
  p.error.hidden = true;
  try {
    const hecho = await api(`/api/pedidos/${id}/aprobar`, { metodo: "POST", idempotente: true });
    if (hecho.estado !== "PENDIENTE") quitarPedido(id);
  } catch (e) {
    p.boton.disabled = false;
    p.boton.textContent = "Aprobar";
    p.error.textContent = `No se pudo aprobar: ${e.message}`;
    p.error.hidden = false;
  }
}

// ── Vouchers ────────────────────────────────────────────────────────────────

function urlSegura(url) {
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? url : null;
  } catch {
    return null;
  }
}

function marcarDuplicado(v) {
  v.li.dataset.duplicado = "true";
  if (!v.aviso) {
    v.aviso = crear("p", {
      clase: "aviso-duplicado",
      texto: "⚠ Posible duplicado: este número de operación ya llegó en otro voucher. Revisa antes de aprobar.",
    });
    v.li.insertBefore(v.aviso, v.meta);
  }
}

function ponerVoucher(d) {
  const id = Number(d.id);
  if (d.estado && d.estado !== "pendiente") {
    quitarVoucher(id);
    return;
  }
  if (vouchers.has(id)) {
    if (d.posible_duplicado) marcarDuplicado(vouchers.get(id));
    return;
  }
  const url = d.imagen_url ? urlSegura(d.imagen_url) : null;
  const imagen = url
    ? crear("a", {
        clase: "imagen",
        texto: "Ver comprobante ↗",
        atributos: { href: url, target: "_blank", rel: "noopener noreferrer" },
      })
    : crear("a", { clase: "imagen sin-imagen", texto: "Sin imagen del comprobante" });
  const motivo = crear("input", {
    clase: "motivo",
    atributos: { type: "text", maxlength: "500", placeholder: "Motivo del rechazo", "aria-label": "Motivo del rechazo" },
  });
  const error = crear("p", { clase: "error-form", atributos: { role: "alert", hidden: true } });
  const aprobar = crear("button", {
    clase: "boton primario aprobar-voucher",
    texto: "✓ Aprobar pago",
    atributos: { type: "button" },
    al: { click: () => revisarVoucher(id, "aprobar") },
  });
  const rechazar = crear("button", {
    clase: "boton peligro rechazar-voucher",
    texto: "Rechazar",
    atributos: { type: "button" },
    al: { click: () => revisarVoucher(id, "rechazar") },
  });
  motivo.addEventListener("input", () => motivo.classList.remove("invalido"));
  const meta = crear("p", {
    clase: "voucher-meta",
    texto: [
      d.pedido_id ? `Pedido #${d.pedido_id}` : "Sin pedido asociado",
      d.telefono ? `Tel. ${d.telefono}` : null,
      sinSucursal && d.sucursal_id ? nombreSucursal(d.sucursal_id) : null,
      d.creado ? `llegó a las ${hora(d.creado)}` : null,
    ]
      .filter(Boolean)
      .join(" · "),
  });
  const li = crear(
    "li",
    { clase: "voucher", datos: { id, duplicado: "false" } },
    crear(
      "div",
      { clase: "voucher-cabecera" },
      crear("span", { clase: "monto", texto: soles(d.monto) }),
      crear("span", { clase: "etiqueta-op", texto: "Operación" }),
      crear("span", { clase: "numero-operacion", texto: d.numero_operacion || "" }),
    ),
    meta,
    imagen,
    crear("div", { clase: "voucher-acciones" }, aprobar, crear("div", { clase: "rechazo" }, motivo, rechazar)),
    error,
  );
  const v = { id, numero: d.numero_operacion, li, meta, aviso: null, motivo, error, aprobar, rechazar };
  vouchers.set(id, v);
  if (d.posible_duplicado) {
    marcarDuplicado(v);
    // El otro voucher con el mismo número también es sospechoso.
    for (const otro of vouchers.values()) if (otro !== v && otro.numero === v.numero) marcarDuplicado(otro);
  }
  insertarOrdenado(listaVouchers, li, porId(false));
  pintarVacios();
}

function quitarVoucher(id) {
  const v = vouchers.get(Number(id));
  if (!v) return;
  v.li.remove();
  vouchers.delete(Number(id));
  pintarVacios();
}

async function revisarVoucher(id, accion) {
  const v = vouchers.get(id);
  if (!v) return;
  v.error.hidden = true;
  let cuerpo;
  if (accion === "rechazar") {
    const motivo = v.motivo.value.trim();
    if (!motivo) {
      v.motivo.classList.add("invalido");
      v.error.textContent = "Escribe el motivo del rechazo antes de rechazar.";
      v.error.hidden = false;
      v.motivo.focus();
      return;
    }
    cuerpo = { motivo };
  }
  v.aprobar.disabled = true;
  v.rechazar.disabled = true;
  try {
    await api(`/api/vouchers/${id}/${accion}`, { metodo: "POST", cuerpo, idempotente: true });
    quitarVoucher(id);
  } catch (e) {
    v.aprobar.disabled = false;
    v.rechazar.disabled = false;
    v.error.textContent = `No se pudo ${accion === "aprobar" ? "aprobar" : "rechazar"}: ${e.message}`;
    v.error.hidden = false;
  }
}

// ── Alertas enviadas ────────────────────────────────────────────────────────

function pintarEnviada(a) {
  const d = a.datos;
  a.li.dataset.prioridad = d.prioridad in ETIQUETA_PRIORIDAD ? d.prioridad : "normal";
  a.li.dataset.estado = d.leida ? "leida" : "enviada";
  a.etiqueta.textContent = ETIQUETA_PRIORIDAD[a.li.dataset.prioridad];
  if (d.leida) {
    const quien = d.leida_por_nombre || (d.leida_por ? `el usuario ${d.leida_por}` : "cocina");
    a.estado.textContent = `✓ leída por ${quien} a las ${hora(d.fecha_lectura)}`;
  } else {
    a.estado.textContent = `enviada a las ${hora(d.fecha_envio)} · cocina aún no la lee`;
  }
  const demorada = !d.leida && Date.now() - new Date(d.fecha_envio).getTime() > DEMORA_MS;
  a.li.classList.toggle("demorada", demorada);
  a.demora.hidden = !demorada;
  if (demorada) {
    const min = Math.floor((Date.now() - new Date(d.fecha_envio).getTime()) / 60000);
    a.demora.textContent = `⚠ Demorada: ${min} min sin leer. Avisa a cocina.`;
  }
}

function ponerEnviada(d) {
  const id = Number(d.id);
  let a = enviadas.get(id);
  if (a) {
    a.datos = { ...a.datos, ...Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) };
    pintarEnviada(a);
    return a;
  }
  const etiqueta = crear("span", { clase: "etiqueta-prioridad" });
  const estado = crear("p", { clase: "alerta-estado" });
  const demora = crear("p", { clase: "aviso-demora", atributos: { role: "alert", hidden: true } });
  const li = crear(
    "li",
    { clase: "alerta", datos: { id, estado: "enviada", prioridad: "normal" } },
    crear(
      "div",
      { clase: "alerta-cabecera" },
      etiqueta,
      d.pedido_id ? crear("span", { clase: "alerta-pedido", texto: `Pedido #${d.pedido_id}` }) : null,
      sinSucursal && d.sucursal_id ? crear("span", { clase: "alerta-sucursal", texto: nombreSucursal(d.sucursal_id) }) : null,
    ),
    crear("p", { clase: "alerta-mensaje", texto: d.mensaje || "" }),
    estado,
    demora,
  );
  a = { id, datos: { ...d }, li, etiqueta, estado, demora };
  enviadas.set(id, a);
  pintarEnviada(a);
  insertarOrdenado(listaEnviadas, li, porId(true));
  while (enviadas.size > MAX_ENVIADAS) {
    const masVieja = Math.min(...enviadas.keys());
    enviadas.get(masVieja).li.remove();
    enviadas.delete(masVieja);
  }
  pintarVacios();
  return a;
}

setInterval(() => {
  for (const a of enviadas.values()) pintarEnviada(a);
}, 10000);

// ── Cocina en línea ─────────────────────────────────────────────────────────

const presencias = new Map(); // sucursal → cocinas en línea
const cocinaEnLinea = $("cocina-en-linea");

function pintarCocina() {
  if (!conectado) {
    cocinaEnLinea.dataset.enLinea = "false";
    cocinaEnLinea.dataset.desconocido = "true";
    cocinaEnLinea.textContent = "Cocina: sin datos (esta pantalla está sin conexión)";
    return;
  }
  if (presencias.size === 0) return;
  delete cocinaEnLinea.dataset.desconocido;
  const relevantes = sinSucursal ? [...presencias.values()] : [presencias.get(usuario.sucursal_id) || 0];
  const cocinas = relevantes.reduce((s, n) => s + n, 0);
  cocinaEnLinea.dataset.enLinea = cocinas > 0 ? "true" : "false";
  cocinaEnLinea.textContent =
    cocinas > 0 ? `● Cocina conectada${cocinas > 1 ? ` (${cocinas} pantallas)` : ""}` : "⚠ Cocina desconectada";
}

function alPresencia(f) {
  if (!sinSucursal && f.sucursal_id !== usuario.sucursal_id) return;
  presencias.set(f.sucursal_id, Number(f.en_linea && f.en_linea.cocina) || 0);
  pintarCocina();
}

// ── Listas vacías ───────────────────────────────────────────────────────────

function pintarVacios() {
  const casos = [
    [$("pedidos-vacio"), pedidos, "No hay pedidos pendientes de aprobar."],
    [$("vouchers-vacio"), vouchers, "No hay vouchers por revisar."],
    [$("alertas-vacio"), enviadas, "Aún no se enviaron alertas."],
  ];
  for (const [nodo, mapa, texto] of casos) {
    nodo.hidden = mapa.size > 0;
    if (!cargado) nodo.textContent = "Cargando…";
    else if (!conectado) nodo.textContent = "Sin conexión: puede haber novedades que esta pantalla no ve.";
    else nodo.textContent = texto;
    nodo.classList.toggle("vacio-alarma", cargado && !conectado);
  }
  $("total-vouchers").textContent = String(vouchers.size);
}

// ── Formularios ─────────────────────────────────────────────────────────────

/** A quien no tiene sucursal (admin de cadena, superadmin) se le pregunta en cada formulario. */
function campoSucursal(formulario) {
  if (!sinSucursal) return;
  const select = crear("select", { atributos: { name: "sucursal_id", required: true } });
  for (const [id, nombre] of sucursales) select.append(crear("option", { texto: nombre, atributos: { value: String(id) } }));
  formulario.prepend(crear("label", {}, "Sucursal", select));
}

function manejar(formulario, enviar) {
  campoSucursal(formulario);
  const aviso = formulario.querySelector(".aviso-form");
  formulario.addEventListener("submit", async (e) => {
    e.preventDefault();
    const boton = formulario.querySelector("button[type=submit]");
    const datos = new FormData(formulario);
    const sucursal = sinSucursal ? { sucursal_id: Number(datos.get("sucursal_id")) } : {};
    boton.disabled = true;
    try {
      const texto = await enviar(datos, sucursal);
      formulario.reset();
      avisar(aviso, texto, "ok");
    } catch (err) {
      avisar(aviso, err.message, "error", 0);
    } finally {
      boton.disabled = false;
    }
  });
}

manejar($("alertar"), async (datos, sucursal) => {
  const mensaje = String(datos.get("mensaje") || "").trim();
  if (!mensaje) throw new Error("Escribe el mensaje para cocina.");
  const cuerpo = { ...sucursal, mensaje, prioridad: String(datos.get("prioridad") || "normal") };
  const pedido = String(datos.get("pedido_id") || "").trim();
  if (pedido) cuerpo.pedido_id = Number(pedido);
  const alerta = await api("/api/alertas", { metodo: "POST", cuerpo, idempotente: true });
  ponerEnviada(alerta);
  const cambio = alerta.prioridad !== cuerpo.prioridad ? ` (las reglas la dejaron en ${ETIQUETA_PRIORIDAD[alerta.prioridad] || alerta.prioridad})` : "";
  return `Alerta enviada a cocina${cambio}.`;
});

manejar($("refill"), async (datos, sucursal) => {
  const cuerpo = {
    ...sucursal,
    producto: String(datos.get("producto") || "").trim(),
    cantidad: Number(datos.get("cantidad")),
  };
  const nota = String(datos.get("nota") || "").trim();
  if (nota) cuerpo.nota = nota;
  if (!cuerpo.producto) throw new Error("Escribe el producto.");
  if (!Number.isInteger(cuerpo.cantidad) || cuerpo.cantidad < 1) throw new Error("La cantidad debe ser un número entero mayor que 0.");
  const r = await api("/api/refills", { metodo: "POST", cuerpo, idempotente: true });
  return `Reposición pedida: ${r.cantidad} × ${r.producto}.`;
});

manejar($("pedido-tienda"), async (datos, sucursal) => {
  const cuerpo = {
    ...sucursal,
    cliente: String(datos.get("cliente") || "").trim(),
    detalle: String(datos.get("detalle") || "").trim(),
    total: Number(datos.get("total")),
  };
  if (!Number.isFinite(cuerpo.total) || cuerpo.total < 0) throw new Error("El total debe ser un número no negativo.");
  const p = await api("/api/pedidos", { metodo: "POST", cuerpo, idempotente: true });
  ponerPedido(p);
  return `Pedido #${p.id} registrado.`;
});

// ── Sonido ──────────────────────────────────────────────────────────────────

const botonSonido = $("activar-sonido");
async function activarSonido() {
  if (await sonido.activar()) botonSonido.hidden = true;
}
botonSonido.addEventListener("click", activarSonido);
// Cualquier toque en la página también habilita el audio.
document.addEventListener("pointerdown", () => {
  if (!sonido.activo()) activarSonido();
});

// ── Carga por REST y eventos ────────────────────────────────────────────────

async function cargar() {
  const [ps, as, vs] = await Promise.all([
    api("/api/pedidos?estado=PENDIENTE&limit=500"),
    api(`/api/alertas?limit=${MAX_ENVIADAS}`),
    api("/api/vouchers?estado=pendiente&limit=500"),
  ]);
  for (const m of [pedidos, vouchers, enviadas]) m.clear();
  for (const l of [listaPedidos, listaVouchers, listaEnviadas]) vaciar(l);
  for (const p of ps.items) ponerPedido(p);
  for (const a of as.items) ponerEnviada(a);
  for (const v of vs.items) ponerVoucher(v);
  pintarPendientes(ps.pendientes);
  cargado = true;
  pintarVacios();
  return Math.min(ps.ultimo_id, as.ultimo_id, vs.ultimo_id);
}

function alEvento(ev) {
  const p = ev.payload || {};
  if (ev.tipo.startsWith("pedido_") && typeof p.pendientes === "number") pintarPendientes(p.pendientes);
  switch (ev.tipo) {
    case "pedido_nuevo":
      ponerPedido({
        id: p.pedido_id,
        origen: p.origen || ev.subtipo,
        cliente: p.cliente,
        detalle: p.detalle,
        total: p.total,
        estado: p.estado || "PENDIENTE",
        creado: ev.fecha,
        sucursal_id: ev.sucursal_id,
      });
      avisarPedidoNuevo();
      break;
    case "pedido_aprobado":
    case "pedido_estado":
      if (p.estado !== "PENDIENTE") quitarPedido(p.pedido_id);
      break;
    case "voucher_nuevo":
      ponerVoucher({
        id: p.voucher_id,
        pedido_id: p.pedido_id,
        monto: p.monto,
        numero_operacion: p.numero_operacion,
        imagen_url: p.imagen_url,
        telefono: p.telefono,
        posible_duplicado: p.posible_duplicado === true,
        creado: ev.fecha,
        sucursal_id: ev.sucursal_id,
      });
      sonido.tono("pedido");
      break;
    case "voucher_aprobado":
    case "voucher_rechazado":
      quitarVoucher(p.voucher_id);
      break;
    case "alerta_cocina":
      ponerEnviada({
        id: p.alerta_id,
        pedido_id: p.pedido_id,
        mensaje: p.mensaje,
        prioridad: ev.prioridad,
        leida: false,
        fecha_envio: p.fecha_envio || ev.fecha,
        sucursal_id: ev.sucursal_id,
      });
      break;
    case "alerta_escalada":
      if (enviadas.has(Number(p.alerta_id))) ponerEnviada({ id: p.alerta_id, prioridad: ev.prioridad });
      break;
    case "alerta_leida":
      if (enviadas.has(Number(p.alerta_id))) {
        ponerEnviada({
          id: p.alerta_id,
          leida: true,
          leida_por: p.leida_por,
          leida_por_nombre: p.leida_por_nombre,
          fecha_lectura: p.fecha_lectura || ev.fecha,
          prioridad: ev.prioridad || undefined,
        });
      }
      break;
    default:
      break;
  }
}

const ultimoId = await cargarConReintentos(cargar);

conectar({
  ultimoId,
  usuarioId: usuario.id,
  alEvento,
  alPresencia,
  recargar: cargar,
  alEstado: (estado) => {
    conectado = estado === "en-linea";
    pintarCocina();
    pintarVacios();
  },
});
