"""The report's inline stylesheet and script (no external fonts, scripts or images)."""

CSS = """
:root{--fg:#1d2330;--dim:#667085;--line:#d9dee7;--bg:#fff;--alt:#f6f8fb;--ok:#137a3a;--okbg:#e3f4e8;
--bad:#b42318;--badbg:#fde8e6;--warn:#9a6700;--warnbg:#fff4d6;--acc:#2355c4}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;color:var(--fg);
background:var(--bg)}
header,main,footer{max-width:1280px;margin:0 auto;padding:0 24px}
header{padding-top:18px;border-bottom:1px solid var(--line)}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:26px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:16px 0 6px}
.sub{margin:0 0 10px;color:var(--dim)}
code,.mono,td{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
.cmd{display:block;background:var(--alt);border:1px solid var(--line);border-radius:6px;padding:8px 10px;
white-space:pre-wrap;word-break:break-all}
nav{padding:8px 0 10px}
nav a{margin-right:14px;color:var(--acc);text-decoration:none;white-space:nowrap}
nav a:hover{text-decoration:underline}
.verdict{display:flex;gap:14px;align-items:center;border-radius:8px;padding:10px 14px;margin:8px 0 6px;
font-size:15px}
.verdict b{font-size:19px;letter-spacing:.5px}
.verdict.ok{background:var(--okbg);color:var(--ok)} .verdict.bad{background:var(--badbg);color:var(--bad)}
.verdict.info{background:var(--alt)} .verdict.warn{background:var(--warnbg);color:var(--warn)}
table{border-collapse:collapse;margin:6px 0;width:100%}
th,td{padding:3px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
td{overflow-wrap:anywhere}
thead th{position:sticky;top:0;background:#eef1f6;font-weight:600;white-space:nowrap;z-index:1}
table.sort thead th{cursor:pointer} table.sort thead th:hover{background:#e2e7f0}
th.asc::after{content:" \\25B2";font-size:9px} th.desc::after{content:" \\25BC";font-size:9px}
tbody tr:nth-child(even){background:var(--alt)}
tr.fail td{background:var(--badbg)} tr.warn td{background:var(--warnbg)}
.n{text-align:right;white-space:nowrap}
table.kv{width:auto;min-width:50%} table.kv th{background:none;width:220px;color:var(--dim);font-weight:500;
position:static} table.kv td{font-family:inherit;font-size:13px}
.b{display:inline-block;white-space:nowrap;padding:0 6px;border-radius:4px;font-weight:600;\
font-family:system-ui,sans-serif;font-size:12px}
.b.ok{background:var(--okbg);color:var(--ok)} .b.bad{background:var(--badbg);color:var(--bad)}
.b.warn{background:var(--warnbg);color:var(--warn)} .b.info{background:#e7eefc;color:var(--acc)}
details.tbl{margin:8px 0;border:1px solid var(--line);border-radius:6px;padding:4px 10px}
details.tbl>summary{cursor:pointer;font-weight:600;padding:4px 0}
.scroll{max-height:70vh;overflow:auto}
input.filter{margin:4px 0 6px;padding:4px 8px;width:340px;max-width:100%;border:1px solid var(--line);
border-radius:4px;font:inherit}
.dim,.note,.count{color:var(--dim)} .note{margin:4px 0}
figure{margin:8px 0 14px} figure svg{max-width:100%;height:auto} figcaption{color:var(--dim);font-size:12.5px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:10px}
.finding{border-left:4px solid var(--line);padding:6px 12px;margin:8px 0;background:var(--alt);\
border-radius:0 6px 6px 0}
.finding.error{border-color:var(--bad)} .finding.warning{border-color:var(--warn)} \
.finding.info{border-color:var(--acc)}
.finding p{margin:2px 0} .finding .k{color:var(--dim);display:inline-block;width:92px}
ul.warnings{margin:4px 0;padding-left:20px} ul.warnings li{color:var(--warn)}
footer{color:var(--dim);font-size:12px;padding:20px 24px 30px}
@media print{
 body{font-size:11px} header,main,footer{max-width:none;padding:0 6mm}
 nav,input.filter,.count{display:none}
 .scroll{max-height:none;overflow:visible}
 thead th{position:static}
 section,figure,.finding{break-inside:avoid-page}
 details.tbl{border:none;padding:0}
 .verdict,tr.fail td,.b,thead th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 h2{break-after:avoid}
}
"""

# Sort on header click (numbers understood, including 1e-3, inf, nan, 12%), filter rows by text, open the
# smaller collapsed tables for printing.
JS = (r"""
(function(){
function val(td){var t=(td?td.textContent:'').trim();var l=t.toLowerCase();
 if(l==='inf')return Infinity;if(l==='-inf')return -Infinity;if(l==='nan')return NaN;
 var f=parseFloat(t.replace(/[%,]/g,''));return (/^[-+]?[\d.]+(e[-+]?\d+)?\s*(%|ms|s)?$/i.test(t)&&!isNaN(f))?f:t;}
function cmp(a,b){var an=typeof a==='number',bn=typeof b==='number';
 if(an&&bn){if(isNaN(a))return isNaN(b)?0:1;if(isNaN(b))return -1;return a-b;}
 if(an)return -1;if(bn)return 1;return a<b?-1:a>b?1:0;}
document.querySelectorAll('table.sort thead th').forEach(function(th,_){
 th.addEventListener('click',function(){var tb=th.closest('table'),body=tb.tBodies[0],i=th.cellIndex;
  var dir=th.classList.contains('asc')?-1:1;"""
    r"""tb.querySelectorAll('thead th').forEach(function(h){h.classList.remove('asc','desc');});
  th.classList.add(dir>0?'asc':'desc');
  var rows=Array.prototype.slice.call(body.rows).map(function(r){return [val(r.cells[i]),r];});
  rows.sort(function(x,y){return dir*cmp(x[0],y[0]);});
  var frag=document.createDocumentFragment();rows.forEach(function(x){frag.appendChild(x[1]);});"""
    r"""body.appendChild(frag);});});
document.querySelectorAll('input.filter').forEach(function(inp){
 var tb=document.getElementById(inp.dataset.table),cnt=document.getElementById(inp.dataset.table+'-count');
 inp.addEventListener('input',function(){var q=inp.value.toLowerCase().trim(),n=0;
  Array.prototype.forEach.call(tb.tBodies[0].rows,function(r){var show=!q||r.textContent.toLowerCase().indexOf(q)>=0;
   r.style.display=show?'':'none';if(show)n++;});
  cnt.textContent=q?(n+' of '+tb.tBodies[0].rows.length+' rows'):'';});});
window.addEventListener('beforeprint',function(){document.querySelectorAll('details.print-open').forEach(function(d){
 if(!d.open){d.open=true;d.dataset.reclose='1';}});});
window.addEventListener('afterprint',function(){document.querySelectorAll('details[data-reclose]').forEach(function(d){
 d.open=false;delete d.dataset.reclose;});});
})();
""")
