const name = "auth";
const mod = await import(`firebase/${name}`);
const local = await import(`./locales/${name}.js`);
const partial = await import(`fire${name}`);
