/** IPAM for the overlays: pure functions over what is allocated (the store holds the state). */
export * from './errors.js';
export * from './cidr.js';
export * from './addresses.js';
export * from './subnets.js';
export * from './vni.js';
export * from './ports.js';
