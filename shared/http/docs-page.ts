/**
 * The API reference page: fetches /openapi.json and lists every operation with its scope, request and responses.
 * Plain HTML and a few lines of script so it adds nothing to install and nothing from a CDN (the local stack is
 * offline); the document stays the single source.
 */
export const DOCS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WeChat Pay backend — API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;margin-top:2rem}.op{margin:1rem 0;padding:.5rem 1rem;border-left:4px solid #07c160;background:#f7f7f7}
.m{font-weight:bold;display:inline-block;min-width:4rem}.scope{color:#555;font-size:.9em}code{font-size:.9em}
details pre{background:#fff;padding:.5rem;overflow:auto;max-height:24rem}
</style></head>
<body><h1 id="title">API</h1><p id="about"></p><div id="ops">Loading /openapi.json…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'})[c]);
  document.getElementById('title').textContent = doc.info.title + ' ' + doc.info.version;
  document.getElementById('about').textContent = doc.info.description;
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(item)) {
    (byTag[(op.tags || ['Other'])[0]] ||= []).push({ path, method, op });
  }
  const schema = ref => ref && ref.$ref ? doc.components.schemas[ref.$ref.split('/').pop()] : ref;
  let html = '';
  for (const tag of doc.tags.map(t => t.name)) {
    const ops = byTag[tag]; if (!ops) continue;
    html += '<h2>' + esc(tag) + '</h2>';
    for (const { path, method, op } of ops) {
      const scopes = (op.security || []).flatMap(s => Object.values(s).flat());
      const body = op.requestBody && op.requestBody.content['application/json'];
      html += '<div class="op" data-operation="' + esc(op.operationId) + '"><span class="m">' + method.toUpperCase() + '</span> <code>' + esc(path) + '</code>'
        + (scopes.length ? ' <span class="scope">scope: ' + esc(scopes.join(', ')) + '</span>' : ' <span class="scope">no token</span>')
        + '<div>' + esc(op.summary || '') + '</div>'
        + (body ? '<details><summary>request</summary><pre>' + esc(JSON.stringify(schema(body.schema), null, 2)) + '</pre></details>' : '')
        + '<details><summary>responses: ' + esc(Object.keys(op.responses).join(', ')) + '</summary><pre>'
        + esc(JSON.stringify(Object.fromEntries(Object.entries(op.responses).map(([s, r]) => [s, r.content ? schema(Object.values(r.content)[0].schema) : r.description])), null, 2))
        + '</pre></details></div>';
    }
  }
  document.getElementById('ops').innerHTML = html;
}).catch(e => { document.getElementById('ops').textContent = 'could not load /openapi.json: ' + e; });
</script></body></html>
`;
