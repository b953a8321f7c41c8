"""CodeCommit holds git: each repository is a bare git repository (repos.py) served over smart HTTP at its
cloneUrlHttp (git_http.py), whose API answers read it (api.py) and whose pushes emit EventBridge's
`CodeCommit Repository State Change` events (events.py)."""
