// Renders /openapi.json as a filterable list of operations. No dependencies, no network beyond this origin.
const ops = document.getElementById('ops');
const summary = document.getElementById('summary');
const filter = document.getElementById('filter');

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function resolve(doc, schema) {
  if (schema && schema.$ref) {
    const name = schema.$ref.split('/').pop();
    return { name, schema: doc.components?.schemas?.[name] };
  }
  return { name: null, schema };
}

function schemaBlock(doc, schema) {
  const { name, schema: resolved } = resolve(doc, schema);
  const text = JSON.stringify(resolved ?? {}, null, 2);
  return el('div', {}, name ? el('div', { class: 'muted' }, name) : '', el('pre', {}, text));
}

function operation(doc, path, method, op) {
  const body = el('div', { class: 'body' });
  if (op.description) body.append(el('p', {}, op.description));
  for (const p of op.parameters ?? []) {
    body.append(el('div', {}, el('code', {}, `${p.in} ${p.name}${p.required ? ' *' : ''}`), ' ', p.description ?? ''));
  }
  const request = op.requestBody?.content?.['application/json']?.schema;
  if (request) body.append(el('h4', {}, 'Request body'), schemaBlock(doc, request));
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    body.append(el('h4', {}, `${status} — ${response.description ?? ''}`));
    const schema = response.content?.['application/json']?.schema;
    if (schema) body.append(schemaBlock(doc, schema));
  }
  const details = el('details', { 'data-search': `${method} ${path} ${op.summary ?? ''}`.toLowerCase() },
    el('summary', {}, el('span', { class: `method ${method}` }, method), el('code', {}, path), el('span', { class: 'muted' }, op.summary ?? '')),
    body);
  return details;
}

async function main() {
  const response = await fetch('/openapi.json');
  const doc = await response.json();
  const byTag = new Map();
  let count = 0;
  for (const [path, item] of Object.entries(doc.paths ?? {}).sort()) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const tag = op.tags?.[0] ?? 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(doc, path, method, op));
      count += 1;
    }
  }
  for (const [tag, nodes] of byTag) ops.append(el('h2', {}, tag), ...nodes);
  const missing = doc['x-unavailable'] ? ` (not reachable now: ${doc['x-unavailable'].join(', ')})` : '';
  summary.textContent = `${doc.info?.title ?? 'API'} ${doc.info?.version ?? ''} — ${count} operations${missing}`;
}

filter.addEventListener('input', () => {
  const q = filter.value.trim().toLowerCase();
  for (const d of ops.querySelectorAll('details')) d.hidden = q !== '' && !d.dataset.search.includes(q);
});

main().catch((e) => { summary.textContent = `Cannot load /openapi.json: ${e.message}`; });
