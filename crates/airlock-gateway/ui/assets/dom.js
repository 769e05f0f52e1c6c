// A tiny element builder. Text is only ever set with text nodes and
// attributes with setAttribute, so data (a project name with HTML in it,
// say) is shown as text and never parsed as markup.

const BOOLEAN_PROPS = new Set(['checked', 'disabled', 'selected', 'readonly', 'required', 'hidden', 'multiple']);

/**
 * h('button', {class: 'primary', onclick: fn, 'data-x': id}, 'Save')
 * attrs: null/undefined/false values are skipped; true sets an empty
 * attribute; on* functions become event listeners.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined || value === false) continue;
      if (name.startsWith('on') && typeof value === 'function') {
        el.addEventListener(name.slice(2).toLowerCase(), value);
      } else if (name === 'class' && Array.isArray(value)) {
        el.setAttribute('class', value.filter(Boolean).join(' '));
      } else if (value === true || BOOLEAN_PROPS.has(name)) {
        el.setAttribute(name, '');
      } else {
        el.setAttribute(name, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings, numbers, nested arrays; null skipped). */
export function append(el, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Removes every child. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  clear(el);
  return append(el, ...children);
}

/** Sets an element's text. */
export function text(el, value) {
  el.textContent = value === null || value === undefined ? '' : String(value);
  return el;
}

let nextId = 0;
/** A unique id for label/control pairs. */
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}
