function(cluster, teams) { tenant: [], files: {} }
