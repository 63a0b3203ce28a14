{
  check(app)::
    if std.get(app, 'replicas', 1) > 2
    then error 'app %s: this platform allows at most 2 replicas' % app.name
    else [],
}
