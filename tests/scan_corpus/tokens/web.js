const token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjb3JwdXMtdXNlci00IiwiaXNzIjoicmVscnVuLXNjYW4tY29ycHVzIiwiZXhwIjoxODkzNDU2MDAwfQ.JxLjv8gHn7ivAuBtqIXWQftK8Jf1dSnOQnSdqbGW0_g";
const h1 = { Authorization: `Bearer ${token}` };
const h2 = { Authorization: 'Bearer ' + token };
const h3 = { Authorization: "Bearer rrtestVEYdMzXyms84xQoZNMxTCEbHt2gNJdWto4" };
export { h1, h2, h3 };
