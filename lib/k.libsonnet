// Small helpers shared by the layers: object constructors and standard labels.
//
// The templates run once per team and cluster, so a thousand-team fleet evaluates
// them ten thousand times, and go-jsonnet's costs add up (measured in instructions
// per call: a function call about 12,000; k.get 40,000; std.objectHas 30,000;
// std.startsWith 55,000; std.find on eight strings 130,000):
//   - build strings with +, not std.format (the % operator on a string), which
//     go-jsonnet evaluates character by character at about a millisecond a call, and
//     std.findSubstr, its cousin; std.splitLimit, std.join, std.member, std.sort and
//     the comprehensions are native, while std.get, std.objectHas, std.startsWith,
//     std.find, std.uniq, std.set, std.parseInt and std.flattenArrays are jsonnet
//     (std.flattenArrays copies its result once per array: use a comprehension);
//   - compute what every object of a unit, an app or a rule shares once, in a
//     local, rather than once per object (a cluster's settings, an app's labels);
//   - write an optional field as [if cond then 'name']: value rather than merging
//     an object that holds it (+ makes every later field lookup walk both).
{
  labels(team, app=null):: {
    'app.kubernetes.io/managed-by': 'rampart',
    'app.kubernetes.io/part-of': team,
    [if app != null then 'app.kubernetes.io/name']: app,
  },

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
  get(obj, field, default)::
    if obj == null || !std.objectHasEx(obj, field, false) then default
    else local v = obj[field]; if v == null then default else v,
}
