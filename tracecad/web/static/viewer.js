// The 3D view of the part: three.js (vendored), orbit/zoom/pan, reset, STL or coloured 3MF.
import * as THREE from './vendor/three/build/three.module.js';
import { OrbitControls } from './vendor/three/examples/jsm/controls/OrbitControls.js';
import { STLLoader } from './vendor/three/examples/jsm/loaders/STLLoader.js';
import { ThreeMFLoader } from './vendor/three/examples/jsm/loaders/3MFLoader.js';

export class Viewer {
  constructor(element) {
    this.element = element;
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(window.devicePixelRatio || 1);
    this.renderer.setClearColor(0xeceef2);
    element.appendChild(this.renderer.domElement);
    this.scene = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(35, 1, 0.1, 10000);
    this.camera.up.set(0, 0, 1);  // tracecad's Z is up
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x667788, 1.6));
    const sun = new THREE.DirectionalLight(0xffffff, 1.8);
    sun.position.set(1, -2, 3);
    this.scene.add(sun);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.addEventListener('change', () => this.render());
    this.part = null;
    new ResizeObserver(() => this.resize()).observe(element);
    this.resize();
  }

  resize() {
    const w = this.element.clientWidth || 400, h = this.element.clientHeight || 300;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  render() { this.renderer.render(this.scene, this.camera); }

  // Show the file at url ("stl" or "3mf", coloured: keep the 3MF's colours); resolves to the size in mm {x, y, z}.
  async show(url, kind, coloured) {
    const response = await fetch(url);
    if (!response.ok) throw new Error('the part could not be loaded for the 3D view');
    const data = await response.arrayBuffer();
    let object;
    if (kind === '3mf') {
      object = new ThreeMFLoader().parse(data);
      object.traverse((o) => {
        if (!o.isMesh) return;
        if (!coloured) { o.material = partMaterial(); return; }
        for (const m of Array.isArray(o.material) ? o.material : [o.material]) m.side = THREE.DoubleSide;
      });
    } else {
      const geometry = new STLLoader().parse(data);
      geometry.computeVertexNormals();
      object = new THREE.Mesh(geometry, partMaterial());
    }
    if (this.part) {
      this.scene.remove(this.part);
      this.part.traverse((o) => { if (o.geometry) o.geometry.dispose(); });
    }
    this.part = object;
    this.scene.add(object);
    const box = new THREE.Box3().setFromObject(object);
    const size = box.getSize(new THREE.Vector3());
    const first = !this.box;
    this.box = box;
    if (first) this.reset(); else this.render();
    return { x: size.x, y: size.y, z: size.z };
  }

  reset() {
    if (!this.box) { this.render(); return; }
    const center = this.box.getCenter(new THREE.Vector3());
    const size = this.box.getSize(new THREE.Vector3());
    const d = Math.max(size.x, size.y, size.z, 1) * 1.9;
    this.camera.position.set(center.x + 0.35 * d, center.y - 0.9 * d, center.z + 0.75 * d);
    this.camera.near = d / 100; this.camera.far = d * 100;
    this.camera.updateProjectionMatrix();
    this.controls.target.copy(center);
    this.controls.update();
    this.render();
  }
}

function partMaterial() {
  const m = new THREE.MeshStandardMaterial({ color: 0x8fa3bf, metalness: 0.05, roughness: 0.6, side: THREE.DoubleSide });
  m.userData.tracecad = true;
  return m;
}
