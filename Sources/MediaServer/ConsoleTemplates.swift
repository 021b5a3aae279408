/// The console's mustache templates and style sheet, kept as constants (no resource lookup at run time).
/// `{{x}}` is HTML-escaped; `{{{x}}}` only for SVG that `ConsoleViews` builds from numbers.
extension ConsoleViews {
    static let templates: [String: String] = [
        "head": """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{title}} · mediaworker console</title>
            <link rel="stylesheet" href="/console/static/console.css">
            </head><body>
            <header><strong>mediaworker</strong>
            {{#user}}<nav><a href="/console"{{#overviewNav}} class="here"{{/overviewNav}}>Overview</a>
            <a href="/console/jobs"{{#jobsNav}} class="here"{{/jobsNav}}>Jobs</a></nav>
            <form method="post" action="/console/logout" class="logout"><input type="hidden" name="csrf" value="{{csrf}}">
            <span class="who">{{user}}</span> <button type="submit">Log out</button></form>{{/user}}
            </header><main>
            """,
        "foot": "</main></body></html>\n",
        "login": """
            {{> head}}
            <h1>Log in</h1>
            {{#noUsers}}<p class="warn">No console users are configured (MEDIAWORKER_CONSOLE_USERS).</p>{{/noUsers}}
            {{#message}}<p class="error" id="message">{{message}}</p>{{/message}}
            <form method="post" action="/console/login" class="login">
            <input type="hidden" name="next" value="{{next}}">
            <label>Name <input name="user" id="user" autocomplete="username" required></label>
            <label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label>
            <button type="submit" id="login">Log in</button>
            </form>
            {{> foot}}
            """,
        "overview": """
            {{> head}}
            <h1>Overview <small>{{now}} UTC</small></h1>
            <section class="cards">
            <div class="card"><span>queued</span><b id="count-queued">{{queued}}</b></div>
            <div class="card"><span>running</span><b id="count-running">{{running}}</b></div>
            <div class="card{{#hasDead}} bad{{/hasDead}}"><span>dead</span><b id="count-dead"><a href="/console/jobs?state=dead">{{dead}}</a></b></div>
            <div class="card"><span>accepted, last hour</span><b id="accepted-hour">{{acceptedHour}}</b></div>
            <div class="card"><span>refused, last hour</span><b id="rejected-hour">{{rejectedHour}}</b></div>
            <div class="card"><span>accepted, last 24 h</span><b id="accepted-day">{{acceptedDay}}</b></div>
            <div class="card"><span>refused, last 24 h</span><b id="rejected-day">{{rejectedDay}}</b></div>
            <div class="card"><span>to final state, median (1 h)</span><b id="median">{{median}}</b></div>
            <div class="card"><span>to final state, p95 (1 h)</span><b id="p95">{{p95}}</b></div>
            <div class="card"><span>oldest queued job waiting</span><b id="latency">{{latency}}</b></div>
            <div class="card"><span>outbox backlog</span><b id="outbox">{{outbox}}</b></div>
            <div class="card{{#helpersFailing}} bad{{/helpersFailing}}"><span>helper processes</span><b id="helpers">{{helpers}}</b></div>
            </section>
            <h2>Final jobs per minute, last hour</h2>
            <p class="legend"><i class="acc"></i> accepted <i class="rej"></i> refused <i class="dead"></i> dead</p>
            {{{hourChart}}}
            <h2>Final jobs per hour, last 24 h</h2>
            {{{dayChart}}}
            <h2>Refusals by code</h2>
            {{#hasRefusalsDay}}
            <table class="refusals"><thead><tr><th>code</th><th>last 24 h</th></tr></thead><tbody>
            {{#refusalsDay}}<tr><td><a href="/console/jobs?state=rejected&amp;reason={{code}}">{{code}}</a></td><td class="n" id="refusals-{{code}}">{{count}}</td></tr>{{/refusalsDay}}
            </tbody></table>
            <p>Last hour: {{#refusalsHour}}{{code}} {{count}}; {{/refusalsHour}}</p>
            {{/hasRefusalsDay}}
            {{^hasRefusalsDay}}<p>No refusals in the last 24 hours.</p>{{/hasRefusalsDay}}
            {{> foot}}
            """,
        "jobs": """
            {{> head}}
            <h1>Jobs</h1>
            {{#retried}}<p class="ok" id="notice">{{retried}} dead job{{^retriedOne}}s{{/retriedOne}} re-queued.</p>{{/retried}}
            <form method="get" action="/console/jobs" class="filters">
            <select name="state" id="filter-state">{{#states}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/states}}</select>
            <select name="kind" id="filter-kind">{{#kinds}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/kinds}}</select>
            <select name="reason" id="filter-reason">{{#reasons}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/reasons}}</select>
            <input name="business" id="filter-business" placeholder="business number" value="{{business}}">
            <input name="conversation" id="filter-conversation" placeholder="conversation id" value="{{conversation}}">
            <button type="submit" id="apply">Filter</button>
            {{#filtered}}<a href="/console/jobs">clear</a>{{/filtered}}
            {{#showRetryAll}}<a href="/console/retry?{{retryQuery}}" class="action" id="retry-all">Retry dead jobs of this filter…</a>{{/showRetryAll}}
            </form>
            {{#empty}}<p id="no-jobs">No jobs.</p>{{/empty}}
            {{^empty}}
            <div class="scroll"><table class="jobs"><thead><tr><th>preview</th><th>job</th><th>submitted (UTC)</th><th>state</th><th>kind</th>
            <th>rejection</th><th>from</th><th>business</th><th>conversation</th><th>size</th></tr></thead><tbody>
            {{#rows}}<tr class="job" data-id="{{id}}" data-state="{{state}}">
            <td class="preview">{{#thumbnail}}<img src="{{thumbnail}}" alt="thumbnail" class="thumb">{{/thumbnail}}{{#audio}}<audio controls preload="metadata" src="{{audio}}"></audio>{{/audio}}</td>
            <td><a href="/console/jobs/{{id}}" title="{{id}}">…{{shortID}}</a><br><small>{{fileName}}</small></td>
            <td>{{created}}</td><td><span class="state {{state}}">{{state}}</span></td><td>{{kind}}</td><td class="reason">{{reason}}</td>
            <td>{{from}}</td><td>{{business}}</td><td>{{conversation}}</td><td class="n">{{size}}</td></tr>{{/rows}}
            </tbody></table></div>
            {{/empty}}
            <p class="pages">{{#notFirst}}<a href="/console/jobs?{{firstQuery}}" id="newest">newest</a> {{/notFirst}}{{#olderQuery}}<a href="/console/jobs?{{olderQuery}}" id="older">older →</a>{{/olderQuery}}</p>
            {{> foot}}
            """,
        "job": """
            {{> head}}
            <h1>Job <code>{{id}}</code> <span class="state {{state}}">{{state}}</span></h1>
            {{#dead}}<form method="post" action="/console/jobs/{{id}}/retry" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit" id="retry">Retry this job</button></form>{{/dead}}
            {{^erased}}<a href="/console/jobs/{{id}}/erase" class="action" id="erase">Erase this job…</a>{{/erased}}
            {{#erased}}<p class="warn" id="tombstone">Erased. Its file, its artifacts, its file name, conversation, business number and outcome are deleted; only this record of the erasure is kept.</p>{{/erased}}
            <h2>Submission and progress</h2>
            <dl class="facts">{{#facts}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/facts}}</dl>
            {{#hasPhases}}<h2>Phase timings</h2>
            <dl class="facts">{{#phases}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/phases}}</dl>{{/hasPhases}}
            {{#hasLastError}}<h2>Last error</h2><pre class="error" id="last-error">{{lastError}}</pre>{{/hasLastError}}
            {{#hasArtifacts}}<h2>Artifacts</h2>
            {{#artifacts}}<figure class="artifact" data-role="{{role}}"><figcaption><a href="{{url}}">{{role}}</a> · {{contentType}} · {{size}} {{details}}</figcaption>
            {{#image}}<img src="{{url}}" alt="{{role}}" class="full">{{/image}}
            {{#audio}}<audio controls preload="metadata" src="{{url}}"></audio>{{{waveform}}}{{/audio}}
            {{#video}}<video controls muted preload="metadata" src="{{url}}"></video>{{/video}}
            {{#safeCopy}}<p><a id="safe-copy" href="{{url}}" target="_blank" rel="noopener noreferrer">Open the safe copy</a>: every page re-drawn from pixels, without the original's text, links, scripts, forms or attachments.</p>{{/safeCopy}}
            </figure>{{/artifacts}}{{/hasArtifacts}}
            {{#hasOutcome}}<h2>Outcome</h2><pre id="outcome">{{outcome}}</pre>{{/hasOutcome}}
            {{> foot}}
            """,
        "confirmErase": """
            {{> head}}
            <h1>Erase job <code>{{id}}</code>?</h1>
            <p>Its file, every artifact, its file name, conversation, business number and outcome are deleted for good; the
            desk's links to its media answer 410 Gone. Only a record that it was erased is kept.</p>
            <form method="post" action="/console/jobs/{{id}}/erase"><input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit" id="confirm-erase">Erase this job</button> <a href="/console/jobs/{{id}}">cancel</a></form>
            {{> foot}}
            """,
        "confirm": """
            {{> head}}
            <h1>Retry dead jobs</h1>
            {{#none}}<p>No dead job matches ({{described}}).</p>{{/none}}
            {{^none}}
            <p>Re-queue <b id="confirm-count">{{count}}</b> {{described}}{{#atLimit}} (at most {{limit}} at a time){{/atLimit}}, each with a fresh attempt budget?</p>
            <form method="post" action="/console/retry"><input type="hidden" name="csrf" value="{{csrf}}">
            {{#hidden}}<input type="hidden" name="{{name}}" value="{{value}}">{{/hidden}}
            <button type="submit" id="confirm">Retry {{count}} jobs</button> <a href="/console/jobs?{{backQuery}}">cancel</a></form>
            {{/none}}
            {{> foot}}
            """,
        "message": """
            {{> head}}
            <h1>{{title}}</h1>
            <p class="error" id="message">{{message}}</p>
            <p><a href="/console">Overview</a></p>
            {{> foot}}
            """,
    ]

    static let css = """
        :root { --acc: #2e7d32; --rej: #ef6c00; --dead: #c62828; --line: #ddd; font-family: system-ui, sans-serif; }
        body { margin: 0; color: #222; background: #fafafa; }
        header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .6rem 1rem; background: #263238; color: #fff; }
        header a { color: #cfd8dc; text-decoration: none; margin-right: .8rem; }
        header a.here { color: #fff; border-bottom: 2px solid #fff; }
        header .logout { margin-left: auto; }
        main { padding: 1rem; max-width: 1200px; }
        h1 small { font-weight: normal; font-size: .6em; color: #666; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: .6rem; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .6rem; }
        .card span { display: block; font-size: .8rem; color: #555; }
        .card b { font-size: 1.4rem; }
        .card.bad { border-color: var(--dead); }
        svg.chart { width: 100%; height: auto; background: #fff; border: 1px solid var(--line); }
        svg .acc { fill: var(--acc); } svg .rej { fill: var(--rej); } svg .dead { fill: var(--dead); }
        svg .axis { stroke: #999; } svg .tick { font-size: 10px; fill: #555; }
        .legend i { display: inline-block; width: .8em; height: .8em; }
        .legend i.acc { background: var(--acc); } .legend i.rej { background: var(--rej); } .legend i.dead { background: var(--dead); }
        table { border-collapse: collapse; background: #fff; }
        th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: middle; }
        td.n { text-align: right; }
        table.jobs td { white-space: nowrap; }
        .scroll { overflow-x: auto; }
        img.thumb { max-width: 96px; max-height: 96px; display: block; }
        img.full { max-width: 100%; max-height: 480px; display: block; }
        td.preview audio { width: 220px; }
        .state { padding: .1rem .4rem; border-radius: 4px; background: #eceff1; font-size: .85rem; }
        .state.accepted { background: #e8f5e9; } .state.rejected { background: #fff3e0; } .state.dead { background: #ffebee; }
        .state.queued, .state.running { background: #e3f2fd; }
        .filters { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; margin-bottom: 1rem; }
        .filters .action { margin-left: auto; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; }
        dl.facts dt { color: #555; } dl.facts dd { margin: 0; word-break: break-all; }
        pre { background: #fff; border: 1px solid var(--line); padding: .6rem; overflow-x: auto; }
        figure.artifact { background: #fff; border: 1px solid var(--line); padding: .6rem; margin: 0 0 1rem; }
        svg.waveform { display: block; width: 100%; max-width: 640px; height: 80px; fill: #455a64; margin-top: .4rem; }
        .error { color: var(--dead); } .ok { color: var(--acc); } .warn { color: var(--rej); }
        form.login { display: grid; gap: .6rem; max-width: 320px; }
        form.login input { display: block; width: 100%; padding: .4rem; box-sizing: border-box; }
        form.inline { display: inline; }
        button { padding: .35rem .8rem; }
        @media (max-width: 600px) { main { padding: .5rem; } .card b { font-size: 1.1rem; } }
        """
}
