// The tracecad page: an image, its live trace, the part in 3D, the downloads. Talks only to this server.
import { Viewer } from './viewer.js';
import { PhotoTools, showReport } from './photo.js';

const $ = (id) => document.getElementById(id);
const LABELS = { step: 'STEP', stl: 'STL', '3mf': '3MF', svg: 'SVG', dxf: 'DXF' };
let file = null;          // the chosen image (a File)
let bitmap = null;        // the same image decoded by the browser, for picking a colour (null: it cannot)
let viewer = null;
let tools = null;         // the photo tools (crop, corners, picked points) over the picture
let picture = null;       // the photo as the server loaded it (a data URL), shown while there is no trace
let sourceSeq = 0;
let previewSeq = 0, convertSeq = 0;
let previewTimer = 0, convertTimer = 0;
const warnings = { preview: [], convert: [] };
const errors = { preview: null, convert: null };

function fields(withFormats) {
  const data = new FormData();
  data.append('image', file, file.name);
  for (const el of $('settings').elements) {
    if (!el.name || el.matches(":disabled")) continue;
    if (el.type === 'checkbox') data.append(el.name, el.checked ? 'true' : 'false');
    else if (el.value.trim() !== '') data.append(el.name, el.value.trim());
  }
  tools.append(data);
  if (withFormats) data.append('formats', ['extrude', 'stroke'].includes($('mode').value) ? 'step,stl,3mf,svg,dxf' : 'stl,3mf');
  return data;
}

async function post(path, data) {
  let response;
  try {
    response = await fetch(path, { method: 'POST', body: data });
  } catch (e) {
    throw new Error('the tracecad server cannot be reached; is it still running?');
  }
  let body = null;
  try { body = await response.json(); } catch (e) { /* not JSON */ }
  if (!response.ok) throw new Error((body && body.error) || `the server answered ${response.status}`);
  return body;
}

function showMessages() {
  const err = errors.preview || errors.convert;
  $('error').textContent = err || '';
  $('error').hidden = !err;
  const list = [...new Set([...warnings.preview, ...warnings.convert])];
  $('warnings').replaceChildren(...list.map((w) => { const li = document.createElement('li'); li.textContent = w; return li; }));
  $('warnings').hidden = list.length === 0;
}

function fmt(v) { return v.toFixed(v >= 100 ? 1 : 2); }

async function preview() {
  if (!file) return;
  const seq = ++previewSeq;
  try {
    const p = await post('/api/preview', fields(false));
    if (seq !== previewSeq) return;
    $('overlay').src = p.overlay;
    $('overlay').hidden = false;
    $('trace-hint').hidden = true;
    $('trace-size').textContent = `subject ${fmt(p.width_mm)} × ${fmt(p.height_mm)} mm`;
    showReport($('photo-report'), p.photo);
    errors.preview = null;
    warnings.preview = p.warnings || [];
    $('trace-panel').dataset.state = 'done';
  } catch (e) {
    if (seq !== previewSeq) return;
    errors.preview = e.message;
    warnings.preview = [];
    if (picture) { $('overlay').src = picture; $('overlay').hidden = false; $('trace-hint').hidden = true; }
    $('trace-panel').dataset.state = 'error';
  }
  showMessages();
}

async function convert() {
  if (!file) return;
  const seq = ++convertSeq;
  $('busy').hidden = false;
  $('part-panel').dataset.state = 'busy';
  try {
    const entry = await post('/api/convert', fields(true));
    if (seq !== convertSeq) return;
    const outs = entry.outputs;
    const kind = entry.colors && outs['3mf'] ? '3mf' : (outs.stl ? 'stl' : (outs['3mf'] ? '3mf' : null));
    if (kind && viewer) {
      const s = await viewer.show(outs[kind], kind, Boolean(entry.colors));
      if (seq !== convertSeq) return;
      $('part-size').textContent = `${fmt(s.x)} × ${fmt(s.y)} × ${fmt(s.z)} mm`;
    } else if (!viewer) {
      $('part-size').textContent = `${fmt(entry.width_mm)} × ${fmt(entry.height_mm)} mm`;
    }
    showDownloads(entry);
    showReport($('photo-report'), entry.photo);
    errors.convert = null;
    warnings.convert = entry.warnings || [];
    $('part-panel').dataset.state = 'done';
  } catch (e) {
    if (seq !== convertSeq) return;
    errors.convert = e.message;
    warnings.convert = [];
    $('downloads').replaceChildren();
    $('part-panel').dataset.state = 'error';
  } finally {
    if (seq === convertSeq) $('busy').hidden = true;
  }
  showMessages();
}

function showDownloads(entry) {
  const links = [];
  for (const [key, url] of Object.entries(entry.outputs)) {
    const [format, body] = key.split(':');
    const a = document.createElement('a');
    a.href = url;
    a.download = url.split('/').pop();
    const colour = body && /_([0-9a-f]{6})$/i.exec(body);
    const what = colour ? '#' + colour[1] : body;
    a.textContent = body ? `${LABELS[format] || format} · ${what}` : (LABELS[format] || format.toUpperCase());
    links.push(a);
  }
  if (entry.zip) {
    const a = document.createElement('a');
    a.href = entry.zip; a.download = entry.zip.split('/').pop(); a.className = 'zip';
    a.textContent = 'All (zip)';
    links.push(a);
  }
  $('downloads').replaceChildren(...links);
}

function changed() {
  clearTimeout(previewTimer); clearTimeout(convertTimer);
  previewTimer = setTimeout(preview, 150);
  convertTimer = setTimeout(convert, 600);
  if (file) { $('part-panel').dataset.state = 'busy'; $('trace-panel').dataset.state = 'busy'; }
}

// The photo to click on, in the frame of every photo option (after its EXIF orientation, full size).
async function loadPicture() {
  const seq = ++sourceSeq;
  const data = new FormData();
  data.append('image', file, file.name);
  try {
    const s = await post('/api/source', data);
    if (seq !== sourceSeq) return;
    picture = s.vector ? null : s.picture;
    tools.reset(s.vector ? null : [s.width, s.height]);
    $('tools').hidden = Boolean(s.vector);
    $('photo').disabled = Boolean(s.vector);
    if (picture && $('overlay').hidden) { $('overlay').src = picture; $('overlay').hidden = false; $('trace-hint').hidden = true; }
  } catch (e) { /* the preview says why the image cannot be read */ }
}

async function choose(f) {
  if (!f) return;
  file = f;
  bitmap = null;
  picture = null;
  tools.reset(null);
  showReport($('photo-report'), null);
  try { bitmap = await createImageBitmap(f, { imageOrientation: 'from-image' }); } catch (e) { /* TIFF: no colour picking */ }
  $('trace-hint').textContent = 'Tracing…';
  $('trace-hint').hidden = false;
  $('overlay').hidden = true;
  clearTimeout(previewTimer); clearTimeout(convertTimer);
  loadPicture();
  preview();
  convert();
}

function pickColour(event) {
  if (tools.tool !== 'colour') return;
  const img = $('overlay');
  if (!bitmap) {
    errors.preview = 'this browser cannot read the colours of this image format; type the colour as #RRGGBB';
    showMessages();
    return;
  }
  const box = img.getBoundingClientRect();
  const x = Math.min(bitmap.width - 1, Math.max(0, Math.floor((event.clientX - box.left) / box.width * bitmap.width)));
  const y = Math.min(bitmap.height - 1, Math.max(0, Math.floor((event.clientY - box.top) / box.height * bitmap.height)));
  const canvas = document.createElement('canvas');
  canvas.width = 1; canvas.height = 1;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(bitmap, x, y, 1, 1, 0, 0, 1, 1);
  const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
  const hex = '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
  $('color').value = hex;
  $('swatch').style.background = hex;
  tools.picks = [];   // a colour and picked points are two ways to say the same thing: the last one counts
  tools.draw();
  changed();
}

// A change of the photo tools (message: a sentence when the change was refused).
function toolsChanged(message) {
  if (message) { errors.preview = message; showMessages(); return; }
  if (tools.picks.length && $('color').value) { $('color').value = ''; $('swatch').style.background = ''; }
  changed();
}

function chooseTool(tool) {
  tools.setTool(tool);
  for (const b of $('tools').querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
}

function init() {
  tools = new PhotoTools($('overlay'), $('marks'), {
    crop: $('crop'), mode: $('perspective-mode'), aspect: $('aspect'), keepMode: $('keep-mode'), keepN: $('keep-n'),
    picks: $('picks'), corners: $('corners-state'),
  }, toolsChanged);
  try {
    viewer = new Viewer($('viewer'));
  } catch (e) {
    $('viewer').textContent = 'The 3D view needs WebGL, which this browser does not offer; the downloads still work.';
  }
  $('file').addEventListener('change', (e) => choose(e.target.files[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault(); drop.classList.remove('over');
    if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]);
  });
  $('settings').addEventListener('input', changed);
  $('settings').addEventListener('change', changed);
  $('settings').addEventListener('submit', (e) => { e.preventDefault(); changed(); });
  $('marks').addEventListener('click', pickColour);
  for (const b of $('tools').querySelectorAll('button')) b.addEventListener('click', () => chooseTool(b.dataset.tool));
  $('clear-picks').addEventListener('click', () => tools.clearPicks());
  $('clear-corners').addEventListener('click', () => tools.clearCorners());
  $('clear-crop').addEventListener('click', () => tools.clearCrop());
  $('color').addEventListener('input', () => { if ($('color').value.trim() && tools.picks.length) { tools.picks = []; tools.draw(); } });
  $('clear-color').addEventListener('click', () => { $('color').value = ''; $('swatch').style.background = ''; changed(); });
  $('reset-view').addEventListener('click', () => viewer && viewer.reset());
}

init();
