const API_SECRET = "RrvYp!tSEo4CHQ#z";
const API_SECRET_ENV = process.env.API_SECRET;
const TOKEN_HEADER = "X-Auth-Token";
const PASSWORD_PLACEHOLDER = "your-password-here";
module.exports = { API_SECRET, API_SECRET_ENV, TOKEN_HEADER, PASSWORD_PLACEHOLDER };
