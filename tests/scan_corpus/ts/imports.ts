import type { App } from 'firebase-admin/app';
import fb = require('firebase');
import { ok } from './ok';
// import { getAuth } from 'firebase/auth';
const label: string = `${ok} uses 'firebase/auth' in a template`;
export const x: App | undefined = undefined;
export { fb, label };
