// Click a column heading to sort the table by it. The report reads fully without this.
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0];
    var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = th.getAttribute("data-sort") !== "asc";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("data-sort"); });
    th.setAttribute("data-sort", asc ? "asc" : "desc");
    var rows = Array.prototype.slice.call(body.rows);
    var key = function (r) {
      var t = r.cells[idx] ? r.cells[idx].textContent.trim() : "";
      var n = parseFloat(t.replace(/[,%\s]/g, ""));
      return isNaN(n) ? t.toLowerCase() : n;
    };
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
