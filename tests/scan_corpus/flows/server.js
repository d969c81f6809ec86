const express = require("express");
const app = express();

app.get("/debug", (req, res) => res.json(process.env));
app.get("/health", (req, res) => res.json({ ok: true }));
console.table(process.env);
console.table(Object.keys(process.env));
