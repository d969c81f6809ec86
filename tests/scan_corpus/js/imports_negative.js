// import firebase from 'firebase';   (a comment)
/* require('firebase-admin')
   import 'firebase/auth' */
const doc = "import firebase from 'firebase'";
const tpl = `require('firebase-admin') ${doc} import('firebase')`;
const tools = require('firebase-tools');
const compat = require("firebase-admin-compat");
const local = require('./firebase');
const scoped = require('@myorg/firebase');
const name = 'firebase';
const dyn = require(name);
const dyn2 = import(`firebase/${name}`);
const obj = { require: (x) => x, import: 1 };
obj.require('firebase');
const firebaseConfig = { apiKey: "" };
const re = /require\('firebase'\)/;
export default { tools, compat, local, scoped, dyn, dyn2, firebaseConfig, re, tpl };
