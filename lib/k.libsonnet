// Small helpers shared by the layers: object constructors and standard labels.
//
// The templates run once per team and cluster, so a thousand-team fleet evaluates
// them ten thousand times: build strings with +, not std.format (the % operator on a
// string), which go-jsonnet evaluates character by character at about a millisecond
// a call, and std.findSubstr, its cousin; std.splitLimit and std.join are native.
{
  labels(team, app=null):: {
    'app.kubernetes.io/managed-by': 'rampart',
    'app.kubernetes.io/part-of': team,
  } + (if app != null then { 'app.kubernetes.io/name': app } else {}),

  // selector is what pods of an app are selected by: stable, never changed by a render.
  selector(app):: { 'app.kubernetes.io/name': app },

  object(apiVersion, kind, name, namespace=null, labels={}):: {
    apiVersion: apiVersion,
    kind: kind,
    metadata: {
      name: name,
      [if namespace != null then 'namespace']: namespace,
      [if std.length(labels) > 0 then 'labels']: labels,
    },
  },

  // get returns obj[field], or default when the field is absent or null.
  get(obj, field, default):: if obj != null && std.objectHas(obj, field) && obj[field] != null then obj[field] else default,
}
