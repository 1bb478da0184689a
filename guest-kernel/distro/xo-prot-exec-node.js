// V8 (node) compiles JavaScript and WebAssembly to machine code at run
// time: a function hot enough for the optimizing compiler, and a small
// WebAssembly module, must run and give the right results. TAP.
'use strict';
const results = [];
const check = (ok, desc) => results.push([ok, desc]);

function work(n) {
	let s = 0;
	for (let i = 1; i <= n; i++) s = (s + i * i) % 1000003;
	return s;
}
const first = work(1000);
for (let i = 0; i < 200; i++) work(20000);
check(work(1000) === first, `an optimized hot function computes what it did cold (${first})`);

// (module (func (export "add") (param i32 i32) (result i32)
//   local.get 0 local.get 1 i32.add))
const wasm = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
	0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f,
	0x03, 0x02, 0x01, 0x00,
	0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00,
	0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b]);
const { add } = new WebAssembly.Instance(new WebAssembly.Module(wasm)).exports;
check(add(40, 2) === 42, 'a WebAssembly function runs: add(40, 2) is 42');

console.log('TAP version 13');
console.log(`1..${results.length}`);
results.forEach(([ok, desc], i) => console.log(`${ok ? 'ok' : 'not ok'} ${i + 1} ${desc}`));
process.exit(results.every(([ok]) => ok) ? 0 : 1);
