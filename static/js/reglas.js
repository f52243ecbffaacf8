// Reglas (admin, superadmin): leer, validar, probar, guardar y restaurar los
// scripts Rhai que deciden prioridades, destinos y escalado.

import { api } from "./api.js";
import { $, crear, vaciar, fechaCorta, iniciarPagina } from "./comun.js";
import { conectar, cargarConReintentos } from "./tiempo-real.js";

const usuario = await cargarConReintentos(() => iniciarPagina(["admin", "superadmin"]));
const nombres = new Map([[usuario.id, usuario.nombre]]);
if (usuario.rol === "superadmin") {
  try {
    const us = await api("/api/usuarios");
    for (const u of us.items) nombres.set(u.id, u.nombre);
  } catch {
    // sin nombres: se muestran los ids
  }
}

// Una muestra por regla, con lo que cada script recibe.
const MUESTRAS = {
  prioridad: {
    mensaje: "Mesa 3: alergia al maní",
    prioridad_pedida: "normal",
    pedido_id: 50,
    sucursal_id: 1,
    hora: 13,
    minutos_pedido: 25,
  },
  destinos: {
    tipo: "alerta_cocina",
    subtipo: null,
    sucursal_id: 1,
    prioridad: "alta",
    payload: { alerta_id: 10, mensaje: "Pedido urgente" },
    hora: 13,
  },
  escalado: { prioridad: "normal", mensaje: "Sin cebolla", pedido_id: null, sucursal_id: 1, hora: 13 },
};
const MINUTOS = { prioridad: 0, destinos: 0, escalado: 6 };

const selector = $("regla");
const fuente = $("fuente");
const lineas = $("lineas");
const muestra = $("muestra");
const minutos = $("minutos");
const errorRegla = $("error-regla");
const estadoRegla = $("estado-regla");

let actual = selector.value;
const guardadas = new Map(); // nombre → fuente en vigor (lo que dice el servidor)
const borradores = new Map(); // nombre → lo que había en el editor al cambiar de regla
const muestras = new Map(Object.entries(MUESTRAS).map(([k, v]) => [k, JSON.stringify(v, null, 2)]));
const minutosPorRegla = new Map(Object.entries(MINUTOS));
let lineaError = null;

// ── Editor: números de línea y la línea con error ───────────────────────────

function pintarLineas() {
  const n = fuente.value.split("\n").length;
  if (lineas.childElementCount !== n) {
    vaciar(lineas);
    for (let i = 1; i <= n; i++) lineas.append(crear("div", { texto: String(i), datos: { linea: i } }));
  }
  for (const d of lineas.querySelectorAll(".linea-error")) d.classList.remove("linea-error");
  if (lineaError) {
    const marca = lineas.children[lineaError - 1];
    if (marca) marca.classList.add("linea-error");
  }
  lineas.scrollTop = fuente.scrollTop;
}

function sinGuardar() {
  return guardadas.has(actual) && fuente.value !== guardadas.get(actual);
}

function pintarSucio() {
  document.body.classList.toggle("regla-modificada", sinGuardar());
  $("descartar").disabled = !sinGuardar();
}

fuente.addEventListener("input", () => {
  pintarLineas();
  pintarSucio();
});
fuente.addEventListener("scroll", () => {
  lineas.scrollTop = fuente.scrollTop;
});
// Tab inserta dos espacios en vez de salir del editor.
fuente.addEventListener("keydown", (e) => {
  if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
    e.preventDefault();
    fuente.setRangeText("  ", fuente.selectionStart, fuente.selectionEnd, "end");
    pintarLineas();
    pintarSucio();
  }
});

function limpiarError() {
  errorRegla.hidden = true;
  errorRegla.textContent = "";
  errorRegla.dataset.linea = "";
  lineaError = null;
  pintarLineas();
}

/** Un 422: «Línea L, columna C: mensaje», y la línea marcada y seleccionada. */
function mostrarErrorCompilacion(detalle) {
  const linea = Number(detalle && detalle.linea) || null;
  const columna = Number(detalle && detalle.columna) || null;
  const mensaje = (detalle && detalle.mensaje) || "la regla no compila";
  errorRegla.hidden = false;
  errorRegla.dataset.linea = linea ? String(linea) : "";
  errorRegla.textContent = linea ? `Línea ${linea}, columna ${columna ?? "?"}: ${mensaje}` : mensaje;
  lineaError = linea;
  pintarLineas();
  if (linea) {
    const filas = fuente.value.split("\n");
    const inicio = filas.slice(0, linea - 1).reduce((s, f) => s + f.length + 1, 0);
    const fin = inicio + (filas[linea - 1] || "").length;
    fuente.focus();
    fuente.setSelectionRange(inicio, fin);
    // Que la línea quede a la vista.
    const alto = parseFloat(getComputedStyle(fuente).lineHeight) || 20;
    fuente.scrollTop = Math.max(0, (linea - 4) * alto);
  }
}

function estado(texto, tipo = "ok") {
  estadoRegla.textContent = texto;
  estadoRegla.dataset.tipo = tipo;
}

// ── Cargar una regla y sus versiones ────────────────────────────────────────

function nombreAutor(id) {
  if (id === null || id === undefined) return "archivo del servidor";
  return nombres.get(id) || `usuario #${id}`;
}

async function cargarVersiones() {
  const nombre = actual;
  const r = await api(`/api/reglas/${nombre}/versiones`);
  if (nombre !== actual) return r.ultimo_id;
  const lista = $("versiones");
  vaciar(lista);
  const items = [...r.items].sort((a, b) => b.id - a.id);
  for (const v of items) {
    const li = crear(
      "li",
      { clase: ["version", v.activa ? "version-activa" : ""], datos: { version: v.id } },
      crear("span", { clase: "version-numero", texto: `Versión ${v.id}` }),
      v.activa ? crear("span", { clase: "version-marca", texto: "activa" }) : null,
      crear("span", { clase: "version-meta", texto: `${nombreAutor(v.autor_id)} · ${fechaCorta(v.creada)}` }),
      crear(
        "div",
        { clase: "acciones" },
        crear("button", {
          clase: "boton pequeno ver",
          texto: "Ver en el editor",
          atributos: { type: "button" },
          al: {
            click: () => {
              fuente.value = v.fuente;
              limpiarError();
              pintarSucio();
              estado(`Versión ${v.id} en el editor (sin guardar: «Guardar» la pondría en vigor).`, "info");
            },
          },
        }),
        crear("button", {
          clase: "boton pequeno restaurar",
          texto: v.activa ? "En vigor" : "Restaurar",
          atributos: { type: "button", disabled: v.activa },
          al: { click: () => restaurar(v.id) },
        }),
      ),
    );
    lista.append(li);
  }
  if (!items.length) lista.append(crear("li", { clase: "vacio", texto: "Sin versiones guardadas." }));
  return r.ultimo_id;
}

const plural = (n, uno, varios) => `${n} ${n === 1 ? uno : varios}`;

function pintarInfo(r) {
  const c = r.contadores || {};
  const info = $("info-regla");
  info.textContent =
    `En vigor: ${r.version ? `versión ${r.version}` : "la regla por omisión"}` +
    ` · ${plural(c.evaluaciones ?? 0, "evaluación", "evaluaciones")}` +
    ` · ${plural(c.fallos ?? 0, "fallo", "fallos")} desde el arranque`;
  info.classList.toggle("con-fallos", (c.fallos ?? 0) > 0);
}

async function cargarRegla({ conservarBorrador = true } = {}) {
  const nombre = actual;
  $("info-regla").textContent = "Cargando…";
  const r = await api(`/api/reglas/${nombre}`);
  if (nombre !== actual) return 0;
  guardadas.set(nombre, r.fuente ?? "");
  const borrador = conservarBorrador ? borradores.get(nombre) : undefined;
  fuente.value = borrador !== undefined ? borrador : (r.fuente ?? "");
  borradores.delete(nombre);
  pintarInfo(r);
  limpiarError();
  pintarSucio();
  if (borrador !== undefined && sinGuardar()) estado("Tienes cambios sin guardar en esta regla.", "info");
  return cargarVersiones();
}

selector.addEventListener("change", async () => {
  if (sinGuardar()) borradores.set(actual, fuente.value);
  muestras.set(actual, muestra.value);
  minutosPorRegla.set(actual, minutos.value);
  actual = selector.value;
  muestra.value = muestras.get(actual) || "{}";
  minutos.value = minutosPorRegla.get(actual) ?? 0;
  $("resultado").textContent = "";
  estado("");
  $("aviso-externo").hidden = true;
  try {
    await cargarRegla();
  } catch (e) {
    estado(`No se pudo cargar la regla: ${e.message}`, "error");
  }
});

// ── Validar, guardar, descartar, restaurar ──────────────────────────────────

async function conBotones(accion) {
  const botones = [$("validar"), $("guardar"), $("probar")];
  for (const b of botones) b.disabled = true;
  try {
    await accion();
  } finally {
    for (const b of botones) b.disabled = false;
    pintarSucio();
  }
}

$("validar").addEventListener("click", () =>
  conBotones(async () => {
    estado("Validando…", "info");
    try {
      await api(`/api/reglas/${actual}/validar`, { metodo: "POST", cuerpo: { fuente: fuente.value } });
      limpiarError();
      estado("✓ La regla compila. Aún no está guardada.", "ok");
    } catch (e) {
      if (e.estado === 422) {
        mostrarErrorCompilacion(e.datos);
        estado("No compila: corrige la línea marcada.", "error");
      } else estado(`No se pudo validar: ${e.message}`, "error");
    }
  }),
);

$("guardar").addEventListener("click", () =>
  conBotones(async () => {
    estado("Guardando…", "info");
    const texto = fuente.value;
    try {
      const v = await api(`/api/reglas/${actual}`, { metodo: "PUT", cuerpo: { fuente: texto } });
      limpiarError();
      guardadas.set(actual, texto);
      estado(`Guardada (versión ${v.id}). Ya está en vigor.`, "ok");
      await recargarInfo();
    } catch (e) {
      if (e.estado === 422) {
        mostrarErrorCompilacion(e.datos);
        estado("No se guardó: la regla no compila y sigue en vigor la anterior.", "error");
      } else estado(`No se pudo guardar: ${e.message}`, "error");
    }
  }),
);

$("descartar").addEventListener("click", () => {
  if (!guardadas.has(actual)) return;
  fuente.value = guardadas.get(actual);
  borradores.delete(actual);
  limpiarError();
  pintarSucio();
  estado("Cambios descartados: el editor muestra la regla en vigor.", "info");
});

async function restaurar(version) {
  await conBotones(async () => {
    estado(`Restaurando la versión ${version}…`, "info");
    try {
      const v = await api(`/api/reglas/${actual}/restaurar`, { metodo: "POST", cuerpo: { version } });
      borradores.delete(actual);
      await cargarRegla({ conservarBorrador: false });
      estado(`Restaurada la versión ${version}: en vigor como versión ${v.id}.`, "ok");
    } catch (e) {
      estado(`No se pudo restaurar: ${e.message}`, "error");
    }
  });
}

/** Tras guardar: contadores y versiones al día, sin tocar el editor. */
async function recargarInfo() {
  const r = await api(`/api/reglas/${actual}`);
  pintarInfo(r);
  await cargarVersiones();
}

// ── Probar ──────────────────────────────────────────────────────────────────

function pintarResultado(partes, tipo) {
  const r = $("resultado");
  vaciar(r);
  r.dataset.tipo = tipo;
  for (const [clase, texto] of partes) r.append(crear("p", { clase, texto }));
}

$("probar").addEventListener("click", () =>
  conBotones(async () => {
    let datos;
    try {
      datos = JSON.parse(muestra.value || "{}");
    } catch (e) {
      pintarResultado([["resultado-fallo", `La muestra no es JSON válido: ${e.message}`]], "error");
      return;
    }
    const cuerpo = {
      nombre: actual,
      fuente: fuente.value,
      muestra: datos,
      minutos_sin_leer: Math.max(0, Math.trunc(Number(minutos.value) || 0)),
    };
    try {
      const r = await api("/api/reglas/probar", { metodo: "POST", cuerpo });
      const micros = typeof r.micros === "number" ? `${r.micros.toFixed(1)} µs` : "—";
      if (r.fallo) {
        pintarResultado(
          [
            ["resultado-fallo", `Falló: ${r.fallo}`],
            ["resultado-nota", `comanda decidiría con su regla por omisión${r.decision !== null && r.decision !== undefined ? `: ${JSON.stringify(r.decision)}` : ""}.`],
            ["resultado-tiempo", `Tiempo: ${micros}`],
          ],
          "error",
        );
      } else {
        const decision = r.decision === null || r.decision === undefined ? "() — dejarla como está" : JSON.stringify(r.decision);
        pintarResultado(
          [
            ["resultado-decision", `Decisión: ${decision}`],
            ["resultado-tiempo", `Tiempo: ${micros}`],
          ],
          "ok",
        );
      }
      limpiarError();
    } catch (e) {
      if (e.estado === 422) {
        mostrarErrorCompilacion(e.datos);
        pintarResultado([["resultado-fallo", "No se pudo probar: el código del editor no compila."]], "error");
      } else {
        pintarResultado([["resultado-fallo", `No se pudo probar: ${e.message}`]], "error");
      }
    }
  }),
);

// ── Tiempo real: cambios de otros y fallos ──────────────────────────────────

function alEvento(ev) {
  const p = ev.payload || {};
  const aviso = $("aviso-externo");
  if (ev.tipo === "regla_actualizada") {
    const nombre = p.nombre || ev.subtipo;
    if (nombre !== actual) return;
    const mia = p.autor && p.autor === usuario.usuario;
    if (mia) return;
    aviso.hidden = false;
    aviso.dataset.tipo = "info";
    if (!sinGuardar()) {
      aviso.textContent = `La regla «${nombre}» cambió (versión ${p.version}${p.autor ? `, por ${p.autor}` : ", desde el archivo"}): el editor muestra la nueva.`;
      cargarRegla({ conservarBorrador: false }).catch(() => {});
    } else {
      aviso.textContent = `Atención: la regla «${nombre}» cambió mientras la editabas (versión ${p.version}${p.autor ? `, por ${p.autor}` : ", desde el archivo"}). Si guardas, tu versión la reemplaza.`;
      guardadas.delete(actual);
      api(`/api/reglas/${actual}`).then((r) => guardadas.set(nombre, r.fuente)).then(pintarSucio).catch(() => {});
      cargarVersiones().catch(() => {});
    }
  } else if (ev.tipo === "regla_fallida") {
    aviso.hidden = false;
    aviso.dataset.tipo = "error";
    aviso.textContent = `La regla «${p.regla}» falló${p.linea ? ` en la línea ${p.linea}` : ""}: ${p.mensaje} (decidió el valor por omisión).`;
  }
}

// ── Arranque ────────────────────────────────────────────────────────────────

muestra.value = muestras.get(actual);
minutos.value = minutosPorRegla.get(actual);
const ultimoId = await cargarConReintentos(() => cargarRegla());
conectar({
  ultimoId,
  usuarioId: usuario.id,
  alEvento,
  // Demasiado atrás: basta con poner al día las versiones (el editor no se toca).
  recargar: () => cargarVersiones(),
});
