// The photo tools: clicks and drags on the picture become --pick, --crop and --perspective, drawn as marks.
// Every coordinate is in pixels of the photo as the server loads it (after its EXIF orientation, at full
// size): a point at a fraction of the displayed picture's width and height is that fraction of the
// photo's size, whatever the picture's scale on the page.

const SVG = 'http://www.w3.org/2000/svg';
export const MAX_PICKS = 32;   // the server's limit on repeated fields

function el(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

const round1 = (v) => Math.round(v * 10) / 10;

// A --crop value (pixels or percent per number) -> [x0, y0, x1, y1] in pixels of a w x h photo, or null.
export function cropBox(text, w, h) {
  const parts = text.split(',').map((t) => t.trim());
  if (parts.length !== 4) return null;
  const sizes = [w, h, w, h];
  const v = parts.map((t, i) => (t.endsWith('%') ? parseFloat(t) / 100 * sizes[i] : parseFloat(t)));
  if (!v.every(Number.isFinite)) return null;
  return [v[0], v[1], v[0] + v[2], v[1] + v[3]];
}

// Four points in drawing order (around their centre, starting top-left), for the outline only.
function ordered(points) {
  const cx = points.reduce((s, p) => s + p[0], 0) / points.length;
  const cy = points.reduce((s, p) => s + p[1], 0) / points.length;
  return [...points].sort((a, b) => Math.atan2(a[1] - cy, a[0] - cx) - Math.atan2(b[1] - cy, b[0] - cx));
}

export class PhotoTools {
  // stage: the element holding the picture (img) and the marks (svg); controls: {crop, mode, aspect,
  // keepMode, keepN, picks (a list element), corners (a status element), help}; onChange: called after
  // every change that alters the fields.
  constructor(img, svg, controls, onChange) {
    this.img = img; this.svg = svg; this.c = controls; this.onChange = onChange;
    this.size = null;        // [width, height] of the photo, or null (no photo, or a vector source)
    this.tool = 'pick';
    this.picks = [];         // [[x, y], ...]
    this.corners = [];       // up to four [x, y]
    this.drag = null;        // the crop being dragged: {x0, y0, x1, y1}
    svg.addEventListener('pointerdown', (e) => this.down(e));
    svg.addEventListener('pointermove', (e) => this.move(e));
    svg.addEventListener('pointerup', (e) => this.up(e));
    svg.addEventListener('pointercancel', () => { this.drag = null; this.draw(); });
    img.addEventListener('load', () => this.draw());
    window.addEventListener('resize', () => this.draw());
    this.c.mode.addEventListener('change', () => this.draw());
    this.c.crop.addEventListener('input', () => this.draw());
    this.c.keepMode.addEventListener('change', () => { this.c.keepN.parentElement.hidden = this.c.keepMode.value !== 'n'; });
    this.draw();
  }

  // A new photo (size [w, h]) or none (null): the clicked points belong to the old one and go.
  reset(size) {
    this.size = size;
    this.picks = []; this.corners = []; this.drag = null;
    this.c.crop.value = '';
    if (this.c.mode.value === 'corners') this.c.mode.value = '';
    this.draw();
  }

  setTool(tool) { this.tool = tool; this.draw(); }

  // The photo pixel under a pointer event (clamped into the photo), or null without a photo.
  at(event) {
    if (!this.size) return null;
    const r = this.img.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return null;
    const [w, h] = this.size;
    const x = Math.min(Math.max((event.clientX - r.left) / r.width * w, 0), w - 0.05);
    const y = Math.min(Math.max((event.clientY - r.top) / r.height * h, 0), h - 0.05);
    return [round1(x), round1(y)];
  }

  down(event) {
    if (event.button !== 0 || this.tool === 'colour') return;
    const p = this.at(event);
    if (!p) return;
    event.preventDefault();
    if (this.tool === 'crop') {
      this.drag = { x0: p[0], y0: p[1], x1: p[0], y1: p[1] };
      this.svg.setPointerCapture(event.pointerId);
    } else if (this.tool === 'pick') {
      if (this.picks.length >= MAX_PICKS) return this.onChange(`at most ${MAX_PICKS} points can be picked`);
      this.picks.push(p);
      this.changed();
    } else if (this.tool === 'corners') {
      if (this.corners.length < 4) {
        this.corners.push(p);
      } else {  // a fifth click moves the nearest corner
        const d = this.corners.map((q) => Math.hypot(q[0] - p[0], q[1] - p[1]));
        this.corners[d.indexOf(Math.min(...d))] = p;
      }
      this.c.mode.value = 'corners';
      this.changed();
    }
  }

  move(event) {
    if (!this.drag) return;
    const p = this.at(event);
    if (p) { this.drag.x1 = p[0]; this.drag.y1 = p[1]; this.draw(); }
  }

  up(event) {
    if (!this.drag) return;
    this.move(event);
    const d = this.drag;
    this.drag = null;
    const [w, h] = this.size;
    const x0 = Math.max(0, Math.floor(Math.min(d.x0, d.x1))), y0 = Math.max(0, Math.floor(Math.min(d.y0, d.y1)));
    const x1 = Math.min(w, Math.ceil(Math.max(d.x0, d.x1))), y1 = Math.min(h, Math.ceil(Math.max(d.y0, d.y1)));
    if (x1 - x0 >= 4 && y1 - y0 >= 4) {  // (a click without a drag leaves the crop as it was)
      this.c.crop.value = `${x0},${y0},${x1 - x0},${y1 - y0}`;
      this.changed();
    } else {
      this.draw();
    }
  }

  removePick(i) { this.picks.splice(i, 1); this.changed(); }
  clearPicks() { this.picks = []; this.changed(); }
  clearCorners() { this.corners = []; this.changed(); }
  clearCrop() { this.c.crop.value = ''; this.changed(); }

  changed() { this.draw(); this.onChange(null); }

  // The form fields of the photo options (the crop is the form's own text field).
  append(data) {
    if (this.c.mode.matches(':disabled')) return;   // (a vector source: no photo options)
    for (const [x, y] of this.picks) data.append('pick', `${x},${y}`);
    const mode = this.c.mode.value;
    let perspective = '';
    if (mode === 'auto') perspective = 'auto';
    else if (mode === 'corners' && this.corners.length === 4) perspective = this.corners.flat().join(',');
    if (perspective) {
      data.append('perspective', perspective);
      const aspect = this.c.aspect.value.trim();
      if (aspect) data.append('aspect', aspect);
    }
    const keep = this.c.keepMode.value;
    if (keep === 'largest') data.append('keep', 'largest');
    else if (keep === 'n' && this.c.keepN.value.trim()) data.append('keep', this.c.keepN.value.trim());
  }

  draw() {
    const svg = this.svg;
    svg.replaceChildren();
    this.listPicks();
    const need = 4 - this.corners.length;
    this.c.corners.textContent = this.c.mode.value === 'corners' && need > 0
      ? `Click ${need} more corner${need > 1 ? 's' : ''} of the flat subject (tool: Corners).`
      : (this.corners.length ? `${this.corners.length} corners clicked.` : '');
    svg.dataset.tool = this.tool;
    this.c.aspect.disabled = !this.c.mode.value;   // (the aspect is the squared-up subject's)
    if (!this.size) { svg.removeAttribute('viewBox'); return; }
    const [w, h] = this.size;
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    const r = this.img.getBoundingClientRect();
    const k = r.width > 0 ? w / r.width : 1;   // photo pixels per screen pixel
    const line = { 'vector-effect': 'non-scaling-stroke', fill: 'none', 'stroke-width': 2 };
    const box = this.drag ? [Math.min(this.drag.x0, this.drag.x1), Math.min(this.drag.y0, this.drag.y1),
      Math.max(this.drag.x0, this.drag.x1), Math.max(this.drag.y0, this.drag.y1)]
      : cropBox(this.c.crop.value, w, h);
    if (box) {
      svg.append(el('rect', { ...line, class: 'crop', x: box[0], y: box[1], width: Math.max(0, box[2] - box[0]),
        height: Math.max(0, box[3] - box[1]), stroke: '#f5c400', 'stroke-dasharray': '6 4' }));
    }
    if (this.c.mode.value === 'corners') {
      if (this.corners.length === 4) {
        const pts = ordered(this.corners).map((p) => p.join(',')).join(' ');
        svg.append(el('polygon', { ...line, class: 'quad', points: pts, stroke: '#00b050' }));
      }
      for (const [x, y] of this.corners) {
        svg.append(el('circle', { ...line, class: 'corner', cx: x, cy: y, r: 6 * k, stroke: '#00b050' }));
      }
    }
    this.picks.forEach(([x, y], i) => {
      const a = 7 * k;
      svg.append(el('path', { ...line, class: 'pick', d: `M${x - a},${y}H${x + a}M${x},${y - a}V${y + a}`,
        stroke: '#e000e0', 'stroke-width': 3 }));
      const t = el('text', { x: x + 5 * k, y: y - 5 * k, 'font-size': 13 * k, fill: '#e000e0' });
      t.textContent = String(i + 1);
      svg.append(t);
    });
  }

  listPicks() {
    const items = this.picks.map(([x, y], i) => {
      const li = document.createElement('li');
      li.textContent = `${x}, ${y} `;
      const b = document.createElement('button');
      b.type = 'button'; b.textContent = '×'; b.title = 'remove this point';
      b.setAttribute('aria-label', `remove point ${i + 1}`);
      b.addEventListener('click', () => this.removePick(i));
      li.append(b);
      return li;
    });
    this.c.picks.replaceChildren(...items);
  }
}

// The report's photo entry as a definition list: the crop, the corners used, the aspect, the picked points.
export function showReport(dl, photo) {
  const rows = [];
  const add = (term, text) => rows.push([term, text]);
  const pt = (p) => `(${p[0]}, ${p[1]})`;
  if (!photo) { dl.replaceChildren(); dl.hidden = true; return; }
  if (photo.crop) add('Crop', `${photo.crop[0]}, ${photo.crop[1]}, ${photo.crop[2]} × ${photo.crop[3]} px`);
  const p = photo.perspective;
  if (p) {
    add('Corners used', `${p.corners.map(pt).join(' ')} (${p.mode === 'auto' ? 'found' : 'clicked'})`);
    let aspect = `${p.aspect.toFixed(4)} (width : height, ${p.aspect_source})`;
    if (p.focal_35mm) aspect += `, focal length ${p.focal_35mm} mm (35 mm equivalent)`;
    add('Aspect', aspect);
  }
  if (photo.picks) {
    add('Picked points', photo.picks.map((q, i) => `${pt(q)}${photo.pick_colors ? ' ' + photo.pick_colors[i] : ''}`).join(' '));
  }
  if (photo.parts !== undefined) add('Parts', `kept ${photo.parts_kept} of ${photo.parts} (${photo.keep})`);
  dl.replaceChildren(...rows.flatMap(([term, text]) => {
    const dt = document.createElement('dt'); dt.textContent = term;
    const dd = document.createElement('dd'); dd.textContent = text;
    return [dt, dd];
  }));
  dl.hidden = rows.length === 0;
}
