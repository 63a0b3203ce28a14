// Runtime detection: Falco rules per team and app, derived from what each app
// declares. Admission and network policy stop what is declared wrong; these rules
// catch what a running container does that nothing declared: a shell, a process the
// app did not declare (runtime.processes), a connection outside its calls, egress,
// DNS and the mesh, a write below a system directory or a read of a sensitive file,
// a package manager, an executable that is not in the image.
//
// The rules go to Falco, not to the API server: each unit (team × cluster) returns
// its team's rules file as `runtime` (a list of Falco rules, macros and lists), and
// Rampart spreads the teams' files over the ConfigMaps cluster.yaml names
// (runtime.configMap, runtime.shards) in Falco's namespace, applied with the platform
// layer by the cluster's reconciler. The platform layer's `runtime` is the file of
// lists and macros every team's rules use (rampart-common.yaml), in shard 0. The
// Falco chart loads them from /etc/falco/rules.d, after falco_rules.yaml, in file
// name order: rampart-common.yaml, then rampart-team-<team>.yaml.
//
// Every rule is scoped to the team's namespace and the app's container (Rampart
// names it after the app), names the team and app in its desc and output, carries
// the MITRE ATT&CK tags upstream rules carry for the same behaviour, and has the
// priority of its kind raised to the cluster's runtime.minimumPriority. Waivers
// (spec.exceptions.runtime) are Falco exceptions of the app's rule; expired ones are
// not rendered (the loader marks them). Upstream rules of falco_rules.yaml that
// Rampart's own rules cover for the team's apps get an exception appended
// (override: {exceptions: append}) for exactly those containers, so one event does not
// alert twice.
//
// generator/load holds a Go copy of the rule names (load.RuntimeRules) for the
// loader's checks of spec.exceptions.runtime.
local d = import 'defaults.libsonnet';
local k = import 'k.libsonnet';
local network = import 'network.libsonnet';

local get = k.get;

// Priorities, most severe first, as Falco's rule schema spells them.
local priorities = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFORMATIONAL', 'DEBUG'];
local rankOf = { [priorities[i]]: i for i in std.range(0, std.length(priorities) - 1) };
local rank(p) = rankOf[p];

// q quotes a value for a Falco condition (a JSON string is a Falco string).
local q(s) = std.escapeStringJson(s);
local inList(xs) = '(' + std.join(', ', [q(x) for x in xs]) + ')';

// The output every rule ends with: who, where, what ran, and the connection.
local outputFields = 'namespace=%k8s.ns.name pod=%k8s.pod.name container=%container.name image=%container.image.repository:%container.image.tag process=%proc.exepath command=%proc.cmdline parent=%proc.pname user=%user.name terminal=%proc.tty connection=%fd.name res=%evt.res';

local shellBinaries = ['ash', 'bash', 'csh', 'dash', 'fish', 'ksh', 'sh', 'tcsh', 'zsh'];

// The lists and macros of rampart-common.yaml. Rampart's rules use only these, not
// upstream's macros, so their meaning does not change when falco_rules.yaml does.
local common = [
  {
    list: 'rampart_shell_binaries',
    items: shellBinaries,
  },
  {
    list: 'rampart_package_managers',
    items: ['apk', 'apt', 'apt-get', 'aptitude', 'conda', 'dnf', 'dpkg', 'gem', 'microdnf', 'npm', 'pip', 'pip3', 'pnpm', 'rpm', 'tdnf', 'yarn', 'yum', 'zypper'],
  },
  {
    list: 'rampart_system_dirs',
    items: ['/bin', '/boot', '/etc', '/lib', '/lib32', '/lib64', '/sbin', '/usr'],
  },
  {
    list: 'rampart_sensitive_files',
    items: ['/etc/gshadow', '/etc/pam.conf', '/etc/security/pwquality.conf', '/etc/shadow', '/etc/sudoers'],
  },
  {
    list: 'rampart_sensitive_dirs',
    items: ['/etc/pam.d', '/etc/sudoers.d', '/root/.ssh', '/run/secrets/kubernetes.io/serviceaccount', '/var/run/secrets/kubernetes.io/serviceaccount'],
  },
  {
    macro: 'rampart_spawned_process',
    condition: 'evt.type in (execve, execveat)',
  },
  {
    // Writes and attempted writes: the root filesystem is read-only, so an attempt
    // fails, and is what there is to see.
    macro: 'rampart_open_write',
    condition: "evt.type in (open, openat, openat2, creat) and evt.is_open_write = true and fd.typechar = 'f'",
  },
  {
    macro: 'rampart_open_read',
    condition: "evt.type in (open, openat, openat2) and evt.is_open_read = true and fd.typechar = 'f'",
  },
  {
    // A TCP or UDP connection to another host (loopback, where the mesh's sidecar
    // listens, is not one; upstream's outbound macro says the same).
    macro: 'rampart_outbound',
    condition: 'evt.type = connect and (fd.typechar = 4 or fd.typechar = 6) and (evt.rawres >= 0 or evt.res = EINPROGRESS) and fd.net != "127.0.0.0/8"',
  },
  {
    // DNS, which every pod may use (the network layer allows it to the cluster DNS).
    macro: 'rampart_dns',
    condition: 'fd.sport = 53',
  },
];

// The rules of each app, by name (spec.exceptions.runtime names them), in order.
// base is the rule's own priority, before the cluster's minimum.
local kinds = [
  {
    name: 'shell',
    title: 'Shell',
    base: 'WARNING',
    tags: ['container', 'shell', 'mitre_execution', 'T1059'],
    what: 'a shell or an interactive terminal ran in the container; the app declares no shell it runs without a terminal (runtime.processes)',
    output: 'a shell ran',
    condition(ctx)::
      'rampart_spawned_process and ' + ctx.scope + ' and proc.name in (rampart_shell_binaries)' +
      (if std.length(ctx.declaredShells) > 0 then ' and not (proc.tty = 0 and ' + ctx.declaredShells + ')' else ''),
  },
  {
    name: 'unexpected-process',
    title: 'Undeclared process',
    base: 'WARNING',
    tags: ['container', 'process', 'mitre_execution', 'TA0002'],
    what: 'an executable the app does not declare in runtime.processes ran in the container (shells and package managers have rules of their own)',
    output: 'an undeclared process ran',
    enabled(app):: std.length(get(get(app, 'runtime', {}), 'processes', [])) > 0,
    condition(ctx)::
      'rampart_spawned_process and ' + ctx.scope + ' and not ' + ctx.declared + ' and not proc.name in (rampart_shell_binaries, rampart_package_managers)',
  },
  {
    name: 'unexpected-outbound',
    title: 'Undeclared connection',
    base: 'WARNING',
    tags: ['container', 'network', 'mitre_command_and_control', 'TA0011'],
    what: 'the container connected somewhere outside its declared calls and egress, DNS and the mesh',
    output: 'an undeclared outbound connection',
    condition(ctx)::
      'rampart_outbound and ' + ctx.scope + ' and not rampart_dns' +
      std.join('', [' and not ' + a for a in ctx.allowed]),
  },
  {
    name: 'system-dir-write',
    title: 'Write below a system directory',
    base: 'ERROR',
    tags: ['container', 'filesystem', 'mitre_persistence', 'TA0003'],
    what: 'a file below /etc, /bin, /sbin, /usr or /lib was opened for writing in the container (the root filesystem is read-only: an attempt is an attack or a broken image)',
    output: 'a write below a system directory',
    condition(ctx)::
      'rampart_open_write and ' + ctx.scope + ' and fd.name pmatch (rampart_system_dirs)',
  },
  {
    name: 'sensitive-read',
    title: 'Read of a sensitive file',
    base: 'WARNING',
    tags: ['container', 'filesystem', 'mitre_credential_access', 'T1555'],
    what: 'a sensitive file (shadow passwords, sudoers, PAM, SSH keys, a service account token) was opened for reading in the container',
    output: 'a sensitive file was read',
    condition(ctx)::
      'rampart_open_read and ' + ctx.scope + ' and (fd.name in (rampart_sensitive_files) or fd.directory in (rampart_sensitive_dirs))',
  },
  {
    name: 'package-manager',
    title: 'Package manager',
    base: 'ERROR',
    tags: ['container', 'process', 'software_mgmt', 'mitre_persistence', 'T1505'],
    what: 'a package manager ran in the container (images are built, not changed at run time)',
    output: 'a package manager ran',
    condition(ctx)::
      'rampart_spawned_process and ' + ctx.scope + ' and proc.name in (rampart_package_managers)',
  },
  {
    name: 'dropped-executable',
    title: 'Executable not in the image',
    base: 'CRITICAL',
    tags: ['container', 'process', 'mitre_persistence', 'TA0003'],
    what: 'an executable that is not part of the image (written since the container started) ran in the container',
    output: 'an executable not in the image ran',
    condition(ctx)::
      'rampart_spawned_process and ' + ctx.scope + ' and proc.is_exe_upper_layer = true',
  },
];

// rulesOf are the kinds as every team's rules use them, made once: each with its
// tags (Rampart's first) and enabled(app), true unless the kind says otherwise.
local rulesOf = [{ enabled(app):: true } + r + { tags: ['rampart'] + r.tags } for r in kinds];

// The upstream rules of falco_rules.yaml (the file the chart loads by default) that
// Rampart's own rules cover for a team's apps, and Rampart's rule that does.
local upstream = [
  { rule: 'Terminal shell in container', by: 'shell' },
  { rule: 'Read sensitive file untrusted', by: 'sensitive-read' },
  { rule: 'Drop and execute new binary in container', by: 'dropped-executable' },
];

{
  kinds:: [x.name for x in kinds],
  upstream:: upstream,

  enabled(cluster):: get(get(cluster.spec, 'runtime', {}), 'enabled', false),

  // minimumPriority is runtime.minimumPriority in cluster.yaml, by default CRITICAL
  // on production, WARNING on staging and NOTICE elsewhere.
  minimumPriority(cluster)::
    get(get(cluster.spec, 'runtime', {}), 'minimumPriority', std.get(d.runtime.minimumPriority, cluster.spec.environment, 'NOTICE')),

  // allowed are the connections an app declares, as conditions: its calls (to the
  // callee's Service name, which Falco resolves), its egress to host names (with the
  // platform's fallback CIDRs where the CNI cannot enforce host names) and to CIDRs,
  // each on its ports.
  local portsOf(ps) = std.uniq(std.sort([p.port for p in ps])),
  local on(ports) = if std.length(ports) == 1 then 'fd.sport = ' + ports[0] else 'fd.sport in (' + std.join(', ', [std.toString(p) for p in ports]) + ')',
  allowed(team, cluster, intents, app)::
    local calls = get(get(intents, 'outgoing', {}), app.name, []);
    local byPeer = std.uniq(std.sort([
      e.to.app + '.' + e.to.team + '.svc.' + d.runtime.clusterDomain + '|' + std.toString(e.to.port)
      for e in calls
    ]));
    local hostEgress = network.hostEgress(app);
    local fallback = if network.cilium(cluster) then [] else network.fallbackCIDRs(cluster);
    [
      '(fd.sip.name = ' + q(std.splitLimit(p, '|', 1)[0]) + ' and fd.sport = ' + std.splitLimit(p, '|', 1)[1] + ')'
      for p in byPeer
    ] + [
      if std.startsWith(e.host, '*.') then
        // Falco resolves the names a rule names; a pattern it cannot resolve, so a
        // wildcard host allows its ports to any address (as loose as the pattern).
        '(' + on(portsOf(e.ports)) + ')'
      else
        '(fd.sip.name = ' + q(e.host) + ' and ' + on(portsOf(e.ports)) + ')'
      for e in hostEgress
    ] + [
      '(fd.snet in ' + inList(fallback) + ' and ' + on(portsOf(std.flattenArrays([e.ports for e in hostEgress]))) + ')'
      for _ in [0]
      if std.length(fallback) > 0 && std.length(hostEgress) > 0
    ] + [
      '(fd.snet in ' + inList([e.cidr]) + ' and ' + on(portsOf(e.ports)) + ')'
      for e in network.cidrEgress(app)
    ],

  // declared is the condition true for the app's declared processes (those of them
  // that shells is true for): absolute paths by proc.exepath, bare names by
  // proc.name.
  local isShell(p) = std.member(shellBinaries, std.reverse(std.split(p, '/'))[0]),
  local declared(app, only=function(p) true) =
    local ps = [p for p in get(get(app, 'runtime', {}), 'processes', []) if only(p)];
    local paths = [p for p in ps if std.startsWith(p, '/')];
    local names = [p for p in ps if !std.startsWith(p, '/')];
    local parts = (if std.length(paths) > 0 then ['proc.exepath in ' + inList(paths)] else []) +
                  (if std.length(names) > 0 then ['proc.name in ' + inList(names)] else []);
    if std.length(parts) == 0 then '' else '(' + std.join(' or ', parts) + ')',

  // waivers are the team's unexpired runtime exceptions (exceptions, the team's
  // spec.exceptions.runtime) of one rule of one app, as Falco exceptions (each field
  // compared for equality).
  local waivers(exceptions, app, kind) = [
    {
      name: 'rampart_exception_' + i,
      fields: e.fields,
      comps: ['=' for _ in e.fields],
      values: e.values,
    }
    for i in std.range(0, std.length(exceptions) - 1)
    for e in [exceptions[i]]
    if e.rule == kind && std.member(e.apps, app) && !get(e, 'expired', false)
  ],

  // appRules are one app's rules. unit holds what every app of the team shares on
  // the cluster: the namespace, each kind's priority and the team's waivers.
  local appRules(unit, team, cluster, intents, app) =
    local ns = unit.ns;
    local ctx = {
      scope: 'k8s.ns.name = ' + q(ns) + ' and container.name = ' + q(app.name),
      declared: declared(app),
      declaredShells: declared(app, isShell),
      allowed: $.allowed(team, cluster, intents, app),
    };
    // The parts of every rule's name ('rampart: <kind> (<team>/<app>)'), description
    // and output that name the app.
    local who = ' (' + ns + '/' + app.name + ')';
    local whose = '. Team ' + ns + ', app ' + app.name + ' (teams/' + ns + '.yaml); waived only by spec.exceptions.runtime, rule ';
    local where = ' in ' + ns + '/' + app.name + ' | ' + outputFields;
    [
      local w = if std.length(unit.exceptions) == 0 then [] else waivers(unit.exceptions, app.name, r.name);
      {
        rule: 'rampart: ' + r.name + who,
        desc: r.what + whose + r.name + '.',
        condition: r.condition(ctx),
        output: 'Rampart ' + r.name + ': ' + r.output + where,
        priority: unit.priorities[r.name],
        tags: r.tags,
        [if std.length(w) > 0 then 'exceptions']: w,
      }
      for r in rulesOf
      if r.enabled(app)
    ],

  // upstreamExceptions append to each covered upstream rule an exception for the
  // team's app containers, which Rampart's own rule of the same behaviour covers.
  upstreamExceptions(team)::
    local ns = team.metadata.name;
    local apps = std.sort([a.name for a in team.spec.apps]);
    [
      {
        rule: u.rule,
        exceptions: [{
          name: 'rampart_' + std.strReplace(ns, '-', '_'),
          fields: ['k8s.ns.name', 'container.name'],
          comps: ['=', 'in'],
          values: [[ns, apps]],
        }],
        override: { exceptions: 'append' },
      }
      for u in upstream
    ],

  // rules is the team's rules file on the cluster: its apps' rules, then the
  // exceptions appended to upstream rules.
  rules(team, cluster, intents)::
    if !$.enabled(cluster) then []
    else
      local min = $.minimumPriority(cluster);
      local unit = {
        ns: team.metadata.name,
        priorities: { [r.name]: if rank(r.base) < rank(min) then r.base else min for r in kinds },
        exceptions: get(get(team.spec, 'exceptions', {}), 'runtime', []),
      };
      std.flattenArrays([appRules(unit, team, cluster, intents, a) for a in team.spec.apps]) + $.upstreamExceptions(team),

  common(cluster):: if $.enabled(cluster) then common else [],

  objects(team, cluster, intents):: { tenant: [], files: {} },

  platform(cluster, teams):: {},

  // Falco's rules are not Kubernetes objects a team's reconciler applies.
  tenantRules:: [],
}
