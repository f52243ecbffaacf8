// Cocina: las alertas sin leer de atención (urgente → alta → normal, y de la
// más antigua a la más nueva) con sonido mientras queden, y las reposiciones.

import { api } from "./api.js";
import {
  $,
  crear,
  vaciar,
  hora,
  hace,
  iniciarPagina,
  cargarSucursales,
  insertarOrdenado,
  ETIQUETA_PRIORIDAD,
} from "./comun.js";
import { conectar, cargarConReintentos } from "./tiempo-real.js";
import * as sonido from "./sonido.js";

const RANGO = { urgente: 0, alta: 1, normal: 2 };
const VIEJA_MS = 5 * 60 * 1000; // más de 5 minutos sin leer: la tarjeta se oscurece y late
// Cada cuánto se repite el tono mientras haya alertas sin leer, según la más alta.
const REPETIR_MS = { urgente: 5000, alta: 10000, normal: 20000 };

const usuario = await cargarConReintentos(() => iniciarPagina(["cocina", "admin", "superadmin"]));
const sucursales = await cargarConReintentos(cargarSucursales);
const variasSucursales = usuario.sucursal_id === null || usuario.sucursal_id === undefined;
if (!variasSucursales) $("sucursal-nombre").textContent = sucursales.get(usuario.sucursal_id) || "";

const listaAlertas = $("alertas");
const listaRefills = $("refills");
const alertas = new Map(); // id → { id, prioridad, fecha_envio, li }
const refills = new Map(); // id → { id, estado, creado, li }
let conectado = false;
let cargado = false;

// ── Alertas ─────────────────────────────────────────────────────────────────

function prioridadValida(p) {
  return p in RANGO ? p : "normal";
}

function vaAntes(a, b) {
  const x = alertas.get(Number(a.dataset.id));
  const y = alertas.get(Number(b.dataset.id));
  if (!x || !y) return false;
  if (RANGO[x.prioridad] !== RANGO[y.prioridad]) return RANGO[x.prioridad] < RANGO[y.prioridad];
  const tx = new Date(x.fecha_envio).getTime() || 0;
  const ty = new Date(y.fecha_envio).getTime() || 0;
  if (tx !== ty) return tx < ty;
  return x.id < y.id;
}

function refrescarTiempo(a) {
  const vieja = Date.now() - new Date(a.fecha_envio).getTime() > VIEJA_MS;
  a.li.classList.toggle("vieja", vieja);
  a.tiempo.textContent = `${hora(a.fecha_envio)} · ${hace(a.fecha_envio)}`;
}

function pintarPrioridad(a) {
  a.li.dataset.prioridad = a.prioridad;
  a.etiqueta.textContent = ETIQUETA_PRIORIDAD[a.prioridad];
}

/**
 * Añade o actualiza una alerta. `datos`: {id, pedido_id, mensaje, prioridad,
 * fecha_envio, enviada_por?, sucursal_id?}; `desde`: el id de evento hasta el
 * que la pantalla la conoce (para conciliar con REST sin carreras).
 */
function ponerAlerta(datos, desde = 0) {
  const id = Number(datos.id);
  let a = alertas.get(id);
  if (!a) {
    const etiqueta = crear("span", { clase: "etiqueta-prioridad" });
    const tiempo = crear("span", { clase: "alerta-hora" });
    const error = crear("p", { clase: "error-form", atributos: { role: "alert", hidden: true } });
    const boton = crear("button", {
      clase: "boton marcar-leida",
      texto: "✓ Marcar leída",
      atributos: { type: "button" },
      al: { click: () => marcarLeida(id) },
    });
    const cabecera = crear(
      "div",
      { clase: "alerta-cabecera" },
      etiqueta,
      datos.pedido_id ? crear("span", { clase: "alerta-pedido", texto: `Pedido #${datos.pedido_id}` }) : null,
      variasSucursales && datos.sucursal_id
        ? crear("span", { clase: "alerta-sucursal", texto: sucursales.get(datos.sucursal_id) || `Sucursal ${datos.sucursal_id}` })
        : null,
      tiempo,
    );
    const li = crear(
      "li",
      { clase: "alerta", datos: { id, prioridad: prioridadValida(datos.prioridad) } },
      cabecera,
      crear("p", { clase: "alerta-mensaje", texto: datos.mensaje || "" }),
      datos.enviada_por ? crear("p", { clase: "alerta-autor", texto: `Enviada por ${datos.enviada_por}` }) : null,
      error,
      boton,
    );
    a = { id, li, etiqueta, tiempo, error, boton, prioridad: "normal", fecha_envio: datos.fecha_envio, desde };
    alertas.set(id, a);
  }
  a.desde = Math.max(a.desde, desde);
  a.prioridad = prioridadValida(datos.prioridad || a.prioridad);
  if (datos.fecha_envio) a.fecha_envio = datos.fecha_envio;
  pintarPrioridad(a);
  refrescarTiempo(a);
  insertarOrdenado(listaAlertas, a.li, vaAntes);
  actualizarTotales();
  return a;
}

function quitarAlerta(id) {
  const a = alertas.get(Number(id));
  if (!a) return;
  a.li.remove();
  alertas.delete(Number(id));
  actualizarTotales();
}

async function marcarLeida(id) {
  const a = alertas.get(id);
  if (!a) return;
  a.boton.disabled = true;
  a.boton.textContent = "Marcando…";
  a.error.hidden = true;
  try {
    await api(`/api/alertas/${id}/leida`, { metodo: "POST", idempotente: true });
    quitarAlerta(id);
  } catch (e) {
    if (e.estado === 409 || e.estado === 404) {
      quitarAlerta(id); // ya la leyó otra pantalla
      return;
    }
    a.boton.disabled = false;
    a.boton.textContent = "✓ Marcar leída";
    a.error.textContent = `No se pudo marcar: ${e.message}`;
    a.error.hidden = false;
  }
}

// ── Refills ─────────────────────────────────────────────────────────────────

const ETIQUETA_REFILL = { pendiente: "Pendiente", en_proceso: "En proceso" };

function refillAntes(a, b) {
  const x = refills.get(Number(a.dataset.id));
  const y = refills.get(Number(b.dataset.id));
  if (!x || !y) return false;
  return x.id < y.id;
}

function ponerRefill(datos, desde = 0) {
  const id = Number(datos.id);
  if (datos.estado === "completado") {
    quitarRefill(id);
    return;
  }
  let r = refills.get(id);
  if (!r) {
    const estado = crear("span", { clase: "estado-refill" });
    const error = crear("p", { clase: "error-form", atributos: { role: "alert", hidden: true } });
    const enProceso = crear("button", {
      clase: "boton en-proceso",
      texto: "En proceso",
      atributos: { type: "button" },
      al: { click: () => moverRefill(id, "en_proceso") },
    });
    const completado = crear("button", {
      clase: "boton completado",
      texto: "✓ Completado",
      atributos: { type: "button" },
      al: { click: () => moverRefill(id, "completado") },
    });
    const li = crear(
      "li",
      { clase: "refill", datos: { id, estado: datos.estado } },
      estado,
      crear(
        "p",
        { clase: "refill-cabecera" },
        crear("span", { clase: "refill-cantidad", texto: `${datos.cantidad} × ` }),
        crear("span", { clase: "refill-producto", texto: datos.producto }),
      ),
      datos.nota ? crear("p", { clase: "refill-nota", texto: datos.nota }) : null,
      crear("p", {
        clase: "refill-meta",
        texto: [
          datos.creado ? `Pedido a las ${hora(datos.creado)}` : null,
          datos.pedido_por ? `por ${datos.pedido_por}` : null,
          variasSucursales && datos.sucursal_id ? sucursales.get(datos.sucursal_id) : null,
        ]
          .filter(Boolean)
          .join(" · "),
      }),
      error,
      crear("div", { clase: "acciones" }, enProceso, completado),
    );
    r = { id, li, estado, error, enProceso, completado, desde };
    refills.set(id, r);
  }
  r.desde = Math.max(r.desde, desde);
  r.li.dataset.estado = datos.estado;
  r.estado.textContent = ETIQUETA_REFILL[datos.estado] || datos.estado;
  r.enProceso.disabled = datos.estado !== "pendiente";
  r.completado.disabled = false;
  insertarOrdenado(listaRefills, r.li, refillAntes);
  actualizarTotales();
}

function quitarRefill(id) {
  const r = refills.get(Number(id));
  if (!r) return;
  r.li.remove();
  refills.delete(Number(id));
  actualizarTotales();
}

async function moverRefill(id, estado) {
  const r = refills.get(id);
  if (!r) return;
  r.enProceso.disabled = true;
  r.completado.disabled = true;
  r.error.hidden = true;
  try {
    const hecho = await api(`/api/refills/${id}/estado`, { metodo: "POST", cuerpo: { estado }, idempotente: true });
    ponerRefill(hecho);
  } catch (e) {
    r.error.textContent = `No se pudo cambiar: ${e.message}`;
    r.error.hidden = false;
    r.completado.disabled = false;
    r.enProceso.disabled = r.li.dataset.estado !== "pendiente";
  }
}

// ── Totales y avisos de lista vacía ─────────────────────────────────────────

function actualizarTotales() {
  const ta = $("total-alertas");
  ta.textContent = String(alertas.size);
  ta.dataset.total = String(alertas.size);
  const tr = $("total-refills");
  tr.textContent = String(refills.size);
  tr.dataset.total = String(refills.size);
  pintarVacios();
}

function pintarVacios() {
  const va = $("alertas-vacio");
  const vr = $("refills-vacio");
  va.hidden = alertas.size > 0;
  vr.hidden = refills.size > 0;
  if (!cargado) {
    va.textContent = "Cargando alertas…";
    vr.textContent = "Cargando reposiciones…";
  } else if (!conectado) {
    // Sin conexión, una lista vacía no significa «nada pendiente».
    va.textContent = "Sin conexión: puede haber alertas que esta pantalla no ve.";
    vr.textContent = "Sin conexión: puede haber reposiciones que esta pantalla no ve.";
  } else {
    va.textContent = "Sin alertas pendientes.";
    vr.textContent = "Sin reposiciones pendientes.";
  }
  va.classList.toggle("vacio-alarma", cargado && !conectado);
  vr.classList.toggle("vacio-alarma", cargado && !conectado);
}

// ── Carga por REST ──────────────────────────────────────────────────────────

async function cargar() {
  const [a, pendientes, enProceso] = await Promise.all([
    api("/api/alertas?leida=false&limit=500"),
    api("/api/refills?estado=pendiente&limit=500"),
    api("/api/refills?estado=en_proceso&limit=500"),
  ]);
  alertas.clear();
  refills.clear();
  vaciar(listaAlertas);
  vaciar(listaRefills);
  for (const fila of a.items) if (!fila.leida) ponerAlerta(fila, a.ultimo_id);
  for (const fila of [...pendientes.items, ...enProceso.items]) ponerRefill(fila, Math.min(pendientes.ultimo_id, enProceso.ultimo_id));
  cargado = true;
  actualizarTotales();
  return Math.min(a.ultimo_id, pendientes.ultimo_id, enProceso.ultimo_id);
}

/**
 * Cada cierto tiempo se compara con REST: una alerta que otra pantalla marcó
 * leída (si las reglas no mandan ese aviso a cocina) o un refill cerrado en
 * otro lado dejan de verse. Solo se quita lo que la pantalla conocía desde
 * antes de la consulta (`desde` ≤ su `ultimo_id`), así no hay carreras.
 */
async function conciliar() {
  if (!conectado || !cargado) return;
  try {
    const [a, pendientes, enProceso] = await Promise.all([
      api("/api/alertas?leida=false&limit=500"),
      api("/api/refills?estado=pendiente&limit=500"),
      api("/api/refills?estado=en_proceso&limit=500"),
    ]);
    if (a.items.length < 500) {
      const abiertas = new Set(a.items.map((f) => f.id));
      for (const x of [...alertas.values()]) if (x.desde <= a.ultimo_id && !abiertas.has(x.id)) quitarAlerta(x.id);
    }
    if (pendientes.items.length < 500 && enProceso.items.length < 500) {
      const hasta = Math.min(pendientes.ultimo_id, enProceso.ultimo_id);
      const abiertos = new Set([...pendientes.items, ...enProceso.items].map((f) => f.id));
      for (const r of [...refills.values()]) if (r.desde <= hasta && !abiertos.has(r.id)) quitarRefill(r.id);
    }
  } catch (e) {
    console.warn("no se pudo conciliar con el servidor:", e.message);
  }
}
setInterval(conciliar, 30000);

// ── Eventos en vivo ─────────────────────────────────────────────────────────

function alEvento(ev) {
  const p = ev.payload || {};
  switch (ev.tipo) {
    case "alerta_cocina": {
      const a = ponerAlerta({
        id: p.alerta_id,
        pedido_id: p.pedido_id,
        mensaje: p.mensaje,
        prioridad: ev.prioridad,
        fecha_envio: p.fecha_envio || ev.fecha,
        enviada_por: p.enviada_por,
        sucursal_id: ev.sucursal_id,
      }, ev.id);
      a.li.classList.add("recien");
      setTimeout(() => a.li.classList.remove("recien"), 4000);
      avisarConSonido(a.prioridad);
      break;
    }
    case "alerta_escalada": {
      const existente = alertas.get(Number(p.alerta_id));
      const minutos = Number(p.minutos_sin_leer) || 0;
      ponerAlerta({
        id: p.alerta_id,
        pedido_id: p.pedido_id,
        mensaje: p.mensaje,
        prioridad: ev.prioridad,
        fecha_envio: existente ? existente.fecha_envio : new Date(new Date(ev.fecha).getTime() - minutos * 60000).toISOString(),
        sucursal_id: ev.sucursal_id,
      }, ev.id);
      avisarConSonido(prioridadValida(ev.prioridad));
      break;
    }
    case "alerta_leida":
      quitarAlerta(p.alerta_id);
      break;
    case "refill_solicitado":
      ponerRefill({
        id: p.refill_id,
        producto: p.producto,
        cantidad: p.cantidad,
        nota: p.nota,
        estado: p.estado || "pendiente",
        creado: ev.fecha,
        pedido_por: p.pedido_por,
        sucursal_id: ev.sucursal_id,
      }, ev.id);
      sonido.tono("normal");
      break;
    case "refill_estado":
      if (p.estado === "completado") quitarRefill(p.refill_id);
      else if (refills.has(Number(p.refill_id))) ponerRefill({ id: p.refill_id, estado: p.estado }, ev.id);
      else ponerRefill({ id: p.refill_id, producto: p.producto, cantidad: p.cantidad, estado: p.estado, sucursal_id: ev.sucursal_id }, ev.id);
      break;
    default:
      break;
  }
}

// ── Sonido ──────────────────────────────────────────────────────────────────

let ultimoTono = 0;

function avisarConSonido(prioridad) {
  if (sonido.tono(prioridad)) ultimoTono = Date.now();
}

function prioridadMasAlta() {
  let mejor = null;
  for (const a of alertas.values()) {
    if (mejor === null || RANGO[a.prioridad] < RANGO[mejor]) mejor = a.prioridad;
  }
  return mejor;
}

setInterval(() => {
  const p = prioridadMasAlta();
  if (!p || !sonido.activo()) return;
  if (Date.now() - ultimoTono >= REPETIR_MS[p]) avisarConSonido(p);
}, 1000);

const botonSonido = $("activar-sonido");
botonSonido.addEventListener("click", async () => {
  if (await sonido.activar()) {
    botonSonido.hidden = true;
    const p = prioridadMasAlta();
    avisarConSonido(p || "normal");
  } else {
    botonSonido.textContent = "Este navegador no deja sonar: vuelve a tocar";
  }
});

// Edad de las alertas: «hace N min» y el aspecto de vieja.
setInterval(() => {
  for (const a of alertas.values()) refrescarTiempo(a);
}, 15000);

// ── Arranque ────────────────────────────────────────────────────────────────

const ultimoId = await cargarConReintentos(cargar);

conectar({
  ultimoId,
  usuarioId: usuario.id,
  alEvento,
  recargar: cargar,
  alEstado: (estado) => {
    conectado = estado === "en-linea";
    pintarVacios();
  },
});
