// Monitor (admin, superadmin): eventos en vivo con filtros y pausa, alertas
// de cocina y reposiciones al día, los últimos eventos de la base de datos,
// y qué pantallas están en línea en cada sucursal.

import { api } from "./api.js";
import {
  $,
  crear,
  vaciar,
  hora,
  horaSegundos,
  fechaCorta,
  soles,
  iniciarPagina,
  cargarSucursales,
  insertarOrdenado,
  ETIQUETA_PRIORIDAD,
} from "./comun.js";
import { conectar, cargarConReintentos } from "./tiempo-real.js";

const MAX_VIVO = 500;
const TIPOS_CONOCIDOS = [
  "alerta_cocina",
  "alerta_escalada",
  "alerta_leida",
  "pedido_nuevo",
  "pedido_aprobado",
  "pedido_estado",
  "voucher_nuevo",
  "voucher_aprobado",
  "voucher_rechazado",
  "refill_solicitado",
  "refill_estado",
  "regla_fallida",
  "regla_actualizada",
  "sesion_cerrada",
  "usuario_actualizado",
];
const MOTIVO_CIERRE = { logout: "salió", limite_de_sesiones: "la cuenta abrió más sesiones de las permitidas" };
const ETIQUETA_REFILL = { pendiente: "Pendiente", en_proceso: "En proceso", completado: "Completado" };

const usuario = await cargarConReintentos(() => iniciarPagina(["admin", "superadmin"]));
const sucursales = await cargarConReintentos(cargarSucursales);
const nombres = new Map(); // usuario id → nombre (superadmin: todos; si no, los que traen los eventos)
if (usuario.rol === "superadmin") {
  try {
    const us = await api("/api/usuarios");
    for (const u of us.items) nombres.set(u.id, u.nombre);
  } catch {
    // sin nombres: se muestran los ids
  }
}
nombres.set(usuario.id, usuario.nombre);
const nombre = (id) => (id === null || id === undefined ? "—" : nombres.get(id) || `usuario ${id}`);
const nombreSucursal = (id) => (id === null || id === undefined ? "Cadena" : sucursales.get(id) || `Sucursal ${id}`);

$("alcance").textContent =
  usuario.sucursal_id === null || usuario.sucursal_id === undefined ? "· toda la cadena" : `· ${nombreSucursal(usuario.sucursal_id)}`;

// ── Pestañas ────────────────────────────────────────────────────────────────

const botonesPestana = [...document.querySelectorAll("button[data-tab]")];

function abrirPestana(nombrePestana) {
  for (const b of botonesPestana) {
    const activa = b.dataset.tab === nombrePestana;
    b.classList.toggle("activa", activa);
    b.setAttribute("aria-selected", activa ? "true" : "false");
    $(`tab-${b.dataset.tab}`).hidden = !activa;
  }
  if (nombrePestana === "bd") cargarBd();
  if (location.hash !== `#${nombrePestana}`) history.replaceState(null, "", `#${nombrePestana}`);
}

for (const b of botonesPestana) b.addEventListener("click", () => abrirPestana(b.dataset.tab));

// ── Contador y presencia ────────────────────────────────────────────────────

let eventosAlCargar = 0; // `eventos_desde_inicio` de /api/estadisticas
let idAlCargar = 0; // su `ultimo_id`: lo posterior se cuenta aquí
let recibidos = 0;

function pintarContador() {
  const c = $("contador-eventos");
  c.textContent = (eventosAlCargar + recibidos).toLocaleString("es-PE");
  c.dataset.total = String(eventosAlCargar + recibidos);
}

const presencias = new Map(); // sucursal → span

function pintarPresencia(sucursalId, enLinea) {
  let span = presencias.get(sucursalId);
  if (!span) {
    span = crear("span", { clase: "presencia", datos: { sucursal: sucursalId } });
    presencias.set(sucursalId, span);
    insertarOrdenado($("presencia"), span, (a, b) => Number(a.dataset.sucursal) < Number(b.dataset.sucursal));
  }
  const atencion = Number(enLinea && enLinea.atencion) || 0;
  const cocina = Number(enLinea && enLinea.cocina) || 0;
  span.dataset.atencion = String(atencion);
  span.dataset.cocina = String(cocina);
  span.classList.toggle("sin-cocina", cocina === 0);
  span.textContent = `${nombreSucursal(sucursalId)}: atención ${atencion} · cocina ${cocina}`;
}

for (const id of sucursales.keys()) pintarPresencia(id, null);

// ── Nodos ───────────────────────────────────────────────────────────────────
// Los nodos de comanda en marcha sobre la misma base, con sus sockets; el que
// sirve esta página va marcado. Se refresca cada pocos segundos.

const CADA_NODOS_MS = 3000;

function pintarNodos(nodos) {
  const lista = $("nodos");
  vaciar(lista);
  for (const n of nodos || []) {
    const span = crear("span", { clase: "nodo", datos: { nodo: n.id, sesiones: n.sesiones } });
    span.classList.toggle("propio", Boolean(n.propio));
    span.textContent = `${n.propio ? "● " : ""}${n.id}: ${n.sesiones} ${n.sesiones === 1 ? "socket" : "sockets"}`;
    span.title = `${n.direccion} · en marcha desde ${hora(n.iniciado)}`;
    lista.append(span);
  }
}

setInterval(async () => {
  try {
    pintarNodos((await api("/api/estadisticas")).nodos);
  } catch {
    // El aviso de conexión ya dice si el servidor no responde.
  }
}, CADA_NODOS_MS);

// ── Eventos en vivo ─────────────────────────────────────────────────────────

const listaVivo = $("eventos-vivo");
const filtroSucursal = $("filtro-sucursal");
const filtroTipo = $("filtro-tipo");
const filtroPrioridad = $("filtro-prioridad");
let pausado = false;
let enEspera = [];

for (const [id, n] of sucursales) filtroSucursal.append(crear("option", { texto: n, atributos: { value: String(id) } }));
filtroSucursal.append(crear("option", { texto: "Sin sucursal (cadena)", atributos: { value: "ninguna" } }));

const tiposEnFiltro = new Set();
function agregarTipo(tipo) {
  if (!tipo || tiposEnFiltro.has(tipo)) return;
  tiposEnFiltro.add(tipo);
  const opcion = crear("option", { texto: tipo, atributos: { value: tipo } });
  const siguiente = [...filtroTipo.options].find((o) => o.value && o.value > tipo);
  filtroTipo.insertBefore(opcion, siguiente || null);
}
TIPOS_CONOCIDOS.forEach(agregarTipo);

function coincide(li) {
  const s = filtroSucursal.value;
  if (s && (s === "ninguna" ? li.dataset.sucursal !== "" : li.dataset.sucursal !== s)) return false;
  if (filtroTipo.value && li.dataset.tipo !== filtroTipo.value) return false;
  const p = filtroPrioridad.value;
  if (p && (p === "ninguna" ? li.dataset.prioridad !== "" : li.dataset.prioridad !== p)) return false;
  return true;
}

function aplicarFiltros() {
  let visibles = 0;
  for (const li of listaVivo.children) {
    li.hidden = !coincide(li);
    if (!li.hidden) visibles++;
  }
  const vacio = $("vivo-vacio");
  vacio.hidden = visibles > 0;
  vacio.textContent = listaVivo.children.length ? "Ningún evento coincide con los filtros." : "Esperando eventos…";
}

for (const f of [filtroSucursal, filtroTipo, filtroPrioridad]) f.addEventListener("change", aplicarFiltros);

/** Una línea legible de lo que pasó. */
function resumen(ev) {
  const p = ev.payload || {};
  switch (ev.tipo) {
    case "alerta_cocina":
      return `${p.enviada_por ? `${p.enviada_por}: ` : ""}«${p.mensaje ?? ""}»${p.pedido_id ? ` (pedido #${p.pedido_id})` : ""}`;
    case "alerta_escalada":
      return `«${p.mensaje ?? ""}» subió de ${p.desde ?? "?"} a ${ev.prioridad ?? "?"} tras ${p.minutos_sin_leer ?? "?"} min sin leer`;
    case "alerta_leida":
      return `«${p.mensaje ?? ""}» leída por ${p.leida_por_nombre ?? nombre(p.leida_por)}`;
    case "pedido_nuevo":
    case "pedido_aprobado":
    case "pedido_estado":
      return `Pedido #${p.pedido_id ?? "?"} ${p.cliente ? `de ${p.cliente} ` : ""}${p.total !== undefined ? soles(p.total) + " " : ""}→ ${p.estado ?? "?"}${
        typeof p.pendientes === "number" ? ` · ${p.pendientes} pendientes` : ""
      }`;
    case "voucher_nuevo":
      return `Voucher ${soles(p.monto)} · operación ${p.numero_operacion ?? "?"}${p.posible_duplicado ? " · ⚠ POSIBLE DUPLICADO" : ""}`;
    case "voucher_aprobado":
      return `Voucher #${p.voucher_id} aprobado por ${p.revisado_por_nombre ?? nombre(p.revisado_por)}`;
    case "voucher_rechazado":
      return `Voucher #${p.voucher_id} rechazado por ${p.revisado_por_nombre ?? nombre(p.revisado_por)}: ${p.motivo ?? ""}`;
    case "refill_solicitado":
      return `${p.cantidad ?? "?"} × ${p.producto ?? "?"}${p.nota ? ` (${p.nota})` : ""}${p.pedido_por ? ` · pedido por ${p.pedido_por}` : ""}`;
    case "refill_estado":
      return `${p.cantidad ?? "?"} × ${p.producto ?? "?"} → ${ETIQUETA_REFILL[p.estado] || p.estado}`;
    case "regla_fallida":
      return `La regla «${p.regla ?? "?"}» falló${p.linea ? ` en la línea ${p.linea}${p.columna ? `, columna ${p.columna}` : ""}` : ""}: ${p.mensaje ?? ""} (decidió el valor por omisión)`;
    case "regla_actualizada":
      return `Regla «${p.nombre ?? ev.subtipo ?? "?"}» → versión ${p.version ?? "?"}${p.autor ? ` por ${p.autor}` : ""}${p.origen ? ` (${p.origen})` : ""}`;
    case "sesion_cerrada":
      return `Sesión de ${nombre(p.usuario_id)} cerrada: ${MOTIVO_CIERRE[p.motivo] || p.motivo || "?"}`;
    case "usuario_actualizado": {
      const cambios = Array.isArray(p.cambios) && p.cambios.length ? p.cambios.join(", ") : "nada";
      return `Cuenta de ${nombre(p.usuario_id)} cambiada por ${nombre(ev.usuario_id)}: ${cambios}${p.sesiones_revocadas ? " · sus sesiones se cerraron" : ""}`;
    }
    default: {
      if (typeof p.mensaje === "string") return p.mensaje;
      const texto = JSON.stringify(p);
      return texto.length > 160 ? `${texto.slice(0, 157)}…` : texto;
    }
  }
}

/** Aprende nombres de usuarios de lo que cuentan los eventos. */
function aprenderNombres(ev) {
  const p = ev.payload || {};
  if (p.enviada_por && p.usuario_envia) nombres.set(p.usuario_envia, p.enviada_por);
  if (p.leida_por_nombre && p.leida_por) nombres.set(p.leida_por, p.leida_por_nombre);
  if (p.atendido_por_nombre && p.atendido_por) nombres.set(p.atendido_por, p.atendido_por_nombre);
  if (p.revisado_por_nombre && p.revisado_por) nombres.set(p.revisado_por, p.revisado_por_nombre);
  if (p.pedido_por && ev.usuario_id && ev.tipo === "refill_solicitado") nombres.set(ev.usuario_id, p.pedido_por);
}

function filaEvento(ev, clase, fecha = horaSegundos) {
  const prioridad = ev.prioridad || "";
  const sucursal = ev.sucursal_id === null || ev.sucursal_id === undefined ? "" : String(ev.sucursal_id);
  const detalle = crear(
    "details",
    { clase: "evento-datos" },
    crear("summary", { texto: "datos" }),
    crear("pre", { texto: JSON.stringify(ev.payload ?? {}, null, 2) }),
  );
  return crear(
    "li",
    {
      clase: [clase, ev.tipo === "regla_fallida" ? "regla-fallida" : ""],
      datos: { id: ev.id, tipo: ev.tipo, sucursal, prioridad },
    },
    crear("span", { clase: "evento-hora", texto: fecha(ev.fecha) }),
    crear("span", { clase: "evento-id", texto: `#${ev.id}` }),
    crear("span", { clase: "evento-tipo", texto: ev.subtipo ? `${ev.tipo} · ${ev.subtipo}` : ev.tipo }),
    crear("span", { clase: "evento-sucursal", texto: nombreSucursal(ev.sucursal_id) }),
    prioridad ? crear("span", { clase: ["etiqueta-prioridad", `p-${prioridad}`], texto: ETIQUETA_PRIORIDAD[prioridad] || prioridad }) : null,
    crear("span", { clase: "evento-resumen", texto: resumen(ev) }),
    detalle,
  );
}

function mostrarEnVivo(ev) {
  agregarTipo(ev.tipo);
  const li = filaEvento(ev, "evento");
  li.hidden = !coincide(li);
  const arriba = listaVivo.scrollTop <= 40;
  const altoAntes = listaVivo.scrollHeight;
  listaVivo.prepend(li);
  while (listaVivo.children.length > MAX_VIVO) listaVivo.lastElementChild.remove();
  // Arriba: se sigue viendo lo último. Más abajo leyendo: no se mueve lo que se lee.
  if (arriba) listaVivo.scrollTop = 0;
  else listaVivo.scrollTop += listaVivo.scrollHeight - altoAntes;
  if (!li.hidden) {
    li.classList.add("recien");
    setTimeout(() => li.classList.remove("recien"), 2500);
  }
  aplicarFiltros();
}

function pintarPausa() {
  const boton = $("pausar");
  const aviso = $("en-pausa");
  boton.setAttribute("aria-pressed", pausado ? "true" : "false");
  boton.classList.toggle("activo", pausado);
  boton.textContent = pausado ? `▶ Reanudar${enEspera.length ? ` (${enEspera.length})` : ""}` : "Pausar";
  aviso.hidden = !pausado;
  aviso.dataset.enEspera = String(enEspera.length);
  aviso.textContent = `En pausa: ${enEspera.length} evento${enEspera.length === 1 ? "" : "s"} nuevo${enEspera.length === 1 ? "" : "s"} sin mostrar`;
}

$("pausar").addEventListener("click", () => {
  pausado = !pausado;
  if (!pausado) {
    const pendientes = enEspera;
    enEspera = [];
    for (const ev of pendientes) mostrarEnVivo(ev);
  }
  pintarPausa();
});

// ── Tabla de alertas ────────────────────────────────────────────────────────

const tablaAlertas = $("tabla-alertas");
const filasAlertas = new Map(); // id → { datos, tr }

function celda(texto, clase) {
  return crear("td", { clase, texto });
}

function pintarFilaAlerta(f) {
  const d = f.datos;
  const prioridad = d.prioridad in ETIQUETA_PRIORIDAD ? d.prioridad : "normal";
  f.tr.dataset.prioridad = prioridad;
  f.tr.dataset.estado = d.leida ? "leida" : "pendiente";
  vaciar(f.tr);
  f.tr.append(
    celda(`#${d.id}`),
    celda(nombreSucursal(d.sucursal_id)),
    crear("td", {}, crear("span", { clase: ["etiqueta-prioridad", `p-${prioridad}`], texto: ETIQUETA_PRIORIDAD[prioridad] })),
    celda(d.mensaje || "", "celda-mensaje"),
    celda(d.pedido_id ? `#${d.pedido_id}` : "—"),
    celda(`${fechaCorta(d.fecha_envio)} · ${d.enviada_por || nombre(d.usuario_envia)}`),
    crear("td", {}, crear("span", { clase: d.leida ? "estado-leida" : "estado-pendiente", texto: d.leida ? "Leída" : "Pendiente" })),
    celda(d.leida ? `${d.leida_por_nombre || nombre(d.leida_por)} · ${hora(d.fecha_lectura)}` : "—"),
  );
}

function ponerFilaAlerta(d) {
  const id = Number(d.id);
  let f = filasAlertas.get(id);
  if (f) {
    f.datos = { ...f.datos, ...Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) };
  } else {
    f = { datos: { ...d, id }, tr: crear("tr", { datos: { id } }) };
    filasAlertas.set(id, f);
    insertarOrdenado(tablaAlertas, f.tr, (a, b) => Number(a.dataset.id) > Number(b.dataset.id));
  }
  pintarFilaAlerta(f);
  $("alertas-vacio").hidden = filasAlertas.size > 0;
}

// ── Tabla de refills ────────────────────────────────────────────────────────

const tablaRefills = $("tabla-refills");
const filasRefills = new Map();

function pintarFilaRefill(f) {
  const d = f.datos;
  f.tr.dataset.estado = d.estado;
  vaciar(f.tr);
  f.tr.append(
    celda(`#${d.id}`),
    celda(nombreSucursal(d.sucursal_id)),
    celda(d.producto || ""),
    celda(String(d.cantidad ?? "")),
    celda(d.nota || "—"),
    crear("td", {}, crear("span", { clase: `estado-refill estado-${d.estado}`, texto: ETIQUETA_REFILL[d.estado] || d.estado })),
    celda(`${fechaCorta(d.creado)} · ${d.pedido_por || nombre(d.usuario_id)}`),
    celda(d.atendido_por ? `${d.atendido_por_nombre || nombre(d.atendido_por)} · ${hora(d.actualizado)}` : "—"),
  );
}

function ponerFilaRefill(d) {
  const id = Number(d.id);
  let f = filasRefills.get(id);
  if (f) {
    f.datos = { ...f.datos, ...Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) };
  } else {
    f = { datos: { ...d, id }, tr: crear("tr", { datos: { id } }) };
    filasRefills.set(id, f);
    insertarOrdenado(tablaRefills, f.tr, (a, b) => Number(a.dataset.id) > Number(b.dataset.id));
  }
  pintarFilaRefill(f);
  $("refills-vacio").hidden = filasRefills.size > 0;
}

// ── Eventos BD ──────────────────────────────────────────────────────────────

let cargandoBd = false;
async function cargarBd() {
  if (cargandoBd) return;
  cargandoBd = true;
  const estado = $("bd-estado");
  estado.hidden = false;
  estado.dataset.tipo = "ok";
  estado.textContent = "Cargando…";
  try {
    const r = await api("/api/eventos?limit=30");
    const lista = $("eventos-bd");
    vaciar(lista);
    for (const ev of r.items) {
      const li = filaEvento({ ...ev, entidad: ev.entidad_tipo ? { tipo: ev.entidad_tipo, id: ev.entidad_id } : null }, "evento-bd", fechaCorta);
      const destinos = Array.isArray(ev.destinos) ? ev.destinos.join(", ") : "";
      if (destinos) li.insertBefore(crear("span", { clase: "evento-destinos", texto: `→ ${destinos}` }), li.querySelector(".evento-resumen"));
      lista.append(li);
    }
    if (!r.items.length) lista.append(crear("li", { clase: "vacio", texto: "No hay eventos guardados." }));
    estado.textContent = `Actualizado a las ${horaSegundos(new Date())}`;
  } catch (e) {
    estado.dataset.tipo = "error";
    estado.textContent = `No se pudieron cargar: ${e.message}`;
  } finally {
    cargandoBd = false;
  }
}
$("recargar-bd").addEventListener("click", cargarBd);

// ── Carga por REST y eventos ────────────────────────────────────────────────

async function cargar() {
  const [est, as, rs] = await Promise.all([
    api("/api/estadisticas"),
    api("/api/alertas?limit=200"),
    api("/api/refills?limit=200"),
  ]);
  eventosAlCargar = Number(est.eventos_desde_inicio) || 0;
  idAlCargar = Number(est.ultimo_id) || 0;
  recibidos = 0;
  pintarContador();
  for (const p of est.presencia || []) pintarPresencia(p.sucursal_id, p.en_linea);
  pintarNodos(est.nodos);

  filasAlertas.clear();
  vaciar(tablaAlertas);
  for (const a of as.items) ponerFilaAlerta(a);
  filasRefills.clear();
  vaciar(tablaRefills);
  for (const r of rs.items) ponerFilaRefill(r);
  for (const [id, vacio] of [[filasAlertas, "alertas-vacio"], [filasRefills, "refills-vacio"]]) {
    $(vacio).hidden = id.size > 0;
    $(vacio).textContent = "Sin registros.";
  }
  if (!$("tab-bd").hidden) cargarBd();
  return Math.min(idAlCargar, as.ultimo_id, rs.ultimo_id);
}

function alEvento(ev) {
  if (ev.id > idAlCargar) {
    recibidos++;
    pintarContador();
  }
  aprenderNombres(ev);
  if (pausado) {
    enEspera.push(ev);
    if (enEspera.length > MAX_VIVO) enEspera.shift();
    pintarPausa();
  } else {
    mostrarEnVivo(ev);
  }

  const p = ev.payload || {};
  switch (ev.tipo) {
    case "alerta_cocina":
      ponerFilaAlerta({
        id: p.alerta_id,
        sucursal_id: ev.sucursal_id,
        prioridad: ev.prioridad,
        mensaje: p.mensaje,
        pedido_id: p.pedido_id,
        fecha_envio: p.fecha_envio || ev.fecha,
        usuario_envia: p.usuario_envia ?? ev.usuario_id,
        enviada_por: p.enviada_por,
        leida: false,
      });
      break;
    case "alerta_escalada":
      if (filasAlertas.has(Number(p.alerta_id))) ponerFilaAlerta({ id: p.alerta_id, prioridad: ev.prioridad });
      break;
    case "alerta_leida":
      ponerFilaAlerta({
        id: p.alerta_id,
        sucursal_id: ev.sucursal_id,
        mensaje: p.mensaje,
        leida: true,
        leida_por: p.leida_por,
        leida_por_nombre: p.leida_por_nombre,
        fecha_lectura: p.fecha_lectura || ev.fecha,
      });
      break;
    case "refill_solicitado":
      ponerFilaRefill({
        id: p.refill_id,
        sucursal_id: ev.sucursal_id,
        producto: p.producto,
        cantidad: p.cantidad,
        nota: p.nota,
        estado: p.estado || "pendiente",
        creado: ev.fecha,
        usuario_id: ev.usuario_id,
        pedido_por: p.pedido_por,
      });
      break;
    case "refill_estado":
      ponerFilaRefill({
        id: p.refill_id,
        sucursal_id: ev.sucursal_id,
        producto: p.producto,
        cantidad: p.cantidad,
        estado: p.estado,
        atendido_por: p.atendido_por,
        atendido_por_nombre: p.atendido_por_nombre,
        actualizado: ev.fecha,
      });
      break;
    default:
      break;
  }
}

const pestanaInicial = location.hash.slice(1);
if (botonesPestana.some((b) => b.dataset.tab === pestanaInicial)) abrirPestana(pestanaInicial);

const ultimoId = await cargarConReintentos(cargar);

conectar({
  ultimoId,
  usuarioId: usuario.id,
  alEvento,
  alPresencia: (f) => pintarPresencia(f.sucursal_id, f.en_linea),
  recargar: cargar,
});
