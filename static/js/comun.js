// Lo que comparten las páginas: construir DOM sin innerHTML, fechas y
// montos, la cabecera (quién soy, navegación, «Salir») y el control de rol.

import { api } from "./api.js";

export const $ = (id) => document.getElementById(id);

/**
 * `crear("li", { clase: "alerta", datos: { id: 3 }, texto: "…", atributos: {…}, al: { click: fn } }, hijo, …)`
 * El texto siempre entra como textContent: los mensajes son de usuarios.
 */
export function crear(etiqueta, opciones = {}, ...hijos) {
  const nodo = document.createElement(etiqueta);
  const { clase, datos, texto, atributos, al } = opciones;
  if (clase) nodo.className = Array.isArray(clase) ? clase.filter(Boolean).join(" ") : clase;
  if (datos) for (const [k, v] of Object.entries(datos)) nodo.dataset[k] = String(v);
  if (atributos) {
    for (const [k, v] of Object.entries(atributos)) {
      if (v === false || v === null || v === undefined) continue;
      if (k in nodo && typeof v !== "string") nodo[k] = v;
      else nodo.setAttribute(k, v === true ? "" : String(v));
    }
  }
  if (texto !== undefined && texto !== null) nodo.textContent = String(texto);
  if (al) for (const [evento, fn] of Object.entries(al)) nodo.addEventListener(evento, fn);
  for (const hijo of hijos.flat()) {
    if (hijo === null || hijo === undefined || hijo === false) continue;
    nodo.append(hijo instanceof Node ? hijo : document.createTextNode(String(hijo)));
  }
  return nodo;
}

export function vaciar(nodo) {
  while (nodo.firstChild) nodo.firstChild.remove();
}

const dosCifras = (n) => String(n).padStart(2, "0");

/** "14:05" en la hora local de la pantalla. */
export function hora(iso) {
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return `${dosCifras(d.getHours())}:${dosCifras(d.getMinutes())}`;
}

/** "14:05:09". */
export function horaSegundos(iso) {
  const d = iso instanceof Date ? iso : new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return `${hora(d)}:${dosCifras(d.getSeconds())}`;
}

/** "29/11 14:05". */
export function fechaCorta(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return `${dosCifras(d.getDate())}/${dosCifras(d.getMonth() + 1)} ${hora(d)}`;
}

/** Minutos enteros desde `iso`. */
export function minutosDesde(iso) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return 0;
  return Math.max(0, Math.floor((Date.now() - t) / 60000));
}

/** "hace 3 min", "ahora mismo". */
export function hace(iso) {
  const m = minutosDesde(iso);
  if (m < 1) return "ahora mismo";
  if (m < 60) return `hace ${m} min`;
  const h = Math.floor(m / 60);
  return `hace ${h} h ${m % 60} min`;
}

/** 25.5 → "S/ 25.50". */
export function soles(monto) {
  const n = Number(monto);
  return Number.isFinite(n) ? `S/ ${n.toFixed(2)}` : "S/ —";
}

export const PRIORIDADES = ["urgente", "alta", "normal"];
export const ETIQUETA_PRIORIDAD = { urgente: "URGENTE", alta: "Alta", normal: "Normal" };
export const ETIQUETA_ROL = {
  atencion: "Atención",
  cocina: "Cocina",
  admin: "Administración",
  superadmin: "Superadmin",
  servicio: "Servicio (bot)",
};

/** La página de cada rol (servicio, el bot, no tiene). */
export function paginaDeRol(rol) {
  switch (rol) {
    case "atencion":
      return "/atencion.html";
    case "cocina":
      return "/cocina.html";
    case "admin":
    case "superadmin":
      return "/monitor.html";
    default:
      return null;
  }
}

export async function salir() {
  try {
    await api("/api/logout", { metodo: "POST", redirigir: false });
  } catch {
    // Sin red o sesión ya cerrada: igual se vuelve al inicio.
  }
  location.assign("/");
}

/** Sucursales del alcance del usuario, como Map id → nombre. */
export async function cargarSucursales() {
  const r = await api("/api/sucursales");
  return new Map(r.items.map((s) => [s.id, s.nombre]));
}

/**
 * Comprueba la sesión y el rol; rellena la cabecera (`#usuario`, `#navegacion`)
 * y conecta `#salir`. Un rol que no corresponde va a su propia página.
 */
export async function iniciarPagina(rolesPermitidos) {
  const boton = $("salir");
  if (boton && !boton.dataset.listo) {
    boton.dataset.listo = "1";
    boton.addEventListener("click", salir);
  }
  const usuario = await api("/api/me");
  if (!rolesPermitidos.includes(usuario.rol)) {
    location.replace(paginaDeRol(usuario.rol) || "/");
    return new Promise(() => {}); // la página se va: nada más que hacer aquí
  }
  const quien = $("usuario");
  if (quien) {
    quien.textContent = `${usuario.nombre} · ${ETIQUETA_ROL[usuario.rol] || usuario.rol}`;
  }
  const nav = $("navegacion");
  if (nav && !nav.firstChild && (usuario.rol === "admin" || usuario.rol === "superadmin")) {
    const enlaces = [
      ["/monitor.html", "Monitor"],
      ["/reglas.html", "Reglas"],
    ];
    if (usuario.sucursal_id !== null && usuario.sucursal_id !== undefined) {
      enlaces.push(["/atencion.html", "Atención"], ["/cocina.html", "Cocina"]);
    }
    for (const [href, texto] of enlaces) {
      const actual = location.pathname === href;
      nav.append(
        crear("a", {
          texto,
          clase: actual ? "actual" : "",
          atributos: { href, "aria-current": actual ? "page" : null },
        }),
      );
    }
  }
  return usuario;
}

/** Muestra un mensaje breve en un elemento (`ok` o `error`); se borra solo. */
export function avisar(nodo, texto, tipo = "ok", ms = 6000) {
  if (!nodo) return;
  nodo.textContent = texto;
  nodo.dataset.tipo = tipo;
  nodo.hidden = false;
  clearTimeout(nodo._plazo);
  if (ms) {
    nodo._plazo = setTimeout(() => {
      nodo.hidden = true;
      nodo.textContent = "";
    }, ms);
  }
}

/** Inserta `nodo` en `lista` en la posición que dicta `antes(a, b)` (a va antes que b). */
export function insertarOrdenado(lista, nodo, antes) {
  for (const otro of lista.children) {
    if (otro !== nodo && antes(nodo, otro)) {
      lista.insertBefore(nodo, otro);
      return;
    }
  }
  lista.append(nodo);
}
