// Every JS import form of a forbidden module.
import firebase from 'firebase';
import { initializeApp } from "firebase/app";
import * as admin from 'firebase-admin';
import 'firebase/auth';
export { getAuth } from '@firebase/auth';
export * from "firebase-functions/v2";
const fns = require('firebase-functions');
const { getFirestore } = require("firebase-admin/firestore");

async function later() {
  const m = await import('firebase/messaging');
  const n = await import(`@firebase/app`);
  return [m, n];
}

const re = /import 'firebase'/g;
const div = 10 / 2 / 5;
module.exports = { later, re, div, fns, getFirestore, admin, initializeApp, firebase };
