// pg and pg-conveyor stay plain Node modules on the server: one copy for every route, and the
// queue finds its migration files.
export default { serverExternalPackages: ['pg', 'pg-conveyor'] };
