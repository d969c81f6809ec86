const secret = process.env.JWT_SECRET || "Rrg99qPRgRAwTsJixN";
const apiKey = process.env["API_KEY"] ?? 'RrQp4BTkzi86JTikW8';
const plain = process.env.JWT_SECRET;
const empty = process.env.JWT_SECRET || "";
const dev = process.env.JWT_SECRET || "dev";
const alg = process.env.JWT_ALGORITHM || "HS256";

console.log(process.env.API_KEY);
console.log(`secret: ${process.env.JWT_SECRET}`);
console.log(process.env);
logger.info("config", config.jwtSecret);

console.log("JWT_SECRET missing");
console.log(Object.keys(process.env));
console.log(process.env.NODE_ENV);
console.log(!!process.env.JWT_SECRET);
console.log(process.env.JWT_SECRET.length);
module.exports = { secret, apiKey, plain, empty, dev, alg };
