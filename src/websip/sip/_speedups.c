/*
 * websip.sip._speedups: optional C versions of the parser's hottest paths.
 *
 * The pure-Python code in message.py, headers.py, uri.py and params.py is the
 * reference. Every function here handles only the usual, clean shape of its
 * input and produces exactly what the Python code produces for it; anything
 * else (folding, escapes, IPv6, defects, errors...) is handed back to Python:
 * the functions that take a ``fallback`` call it with their other arguments,
 * ``frame`` returns None. So this module never decides that input is invalid,
 * and a gap in it costs speed, never correctness. tests/sip runs the whole
 * suite with and without it and compares both on the torture corpus and on
 * generated and mutated messages.
 *
 * Objects are built the way the Python code builds them (``cls.__new__(cls)``
 * and slot assignments): ``configure`` reads the offsets of the slots from the
 * classes' member descriptors, and refuses classes that do not have them.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* character classes (RFC 3261 25.1, as the regexes of abnf.py spell them)  */
/* ------------------------------------------------------------------------ */

enum {
    C_TOKEN = 1 << 0,    /* token */
    C_USER = 1 << 1,     /* user: unreserved / escaped / user-unreserved */
    C_PASSWORD = 1 << 2, /* password */
    C_UPARAM = 1 << 3,   /* URI parameter text: paramchar / "=" */
    C_HOST = 1 << 4,     /* hostname label: alphanum / "-" */
    C_GENV = 1 << 5,     /* unquoted gen-value: token / ":" / "[" / "]" */
    C_IPV6 = 1 << 6,     /* inside an IPv6 reference: HEXDIG / ":" / "." */
    C_DIGIT = 1 << 7,
    C_WORD = 1 << 8,     /* word (Call-ID) */
};

static unsigned short ctab[128];

static void
init_ctab(void)
{
    const char *alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const char *mark = "-_.!~*'()";
    const char *p;
    for (p = alnum; *p; p++) {
        ctab[(unsigned char)*p] |= C_TOKEN | C_USER | C_PASSWORD | C_UPARAM | C_HOST | C_GENV;
    }
    for (p = mark; *p; p++) {
        ctab[(unsigned char)*p] |= C_USER | C_PASSWORD | C_UPARAM;
    }
    for (p = "-.!%*_+`'~"; *p; p++) {
        ctab[(unsigned char)*p] |= C_TOKEN | C_GENV;
    }
    ctab['-'] |= C_HOST;
    for (p = "%&=+$,;?/"; *p; p++) {
        ctab[(unsigned char)*p] |= C_USER;
    }
    for (p = "%&=+$,"; *p; p++) {
        ctab[(unsigned char)*p] |= C_PASSWORD;
    }
    for (p = "[]/:&+$%="; *p; p++) {
        ctab[(unsigned char)*p] |= C_UPARAM;
    }
    for (p = ":[]"; *p; p++) {
        ctab[(unsigned char)*p] |= C_GENV;
    }
    for (p = "0123456789ABCDEFabcdef:."; *p; p++) {
        ctab[(unsigned char)*p] |= C_IPV6;
    }
    for (p = "0123456789"; *p; p++) {
        ctab[(unsigned char)*p] |= C_DIGIT;
    }
    for (p = alnum; *p; p++) {
        ctab[(unsigned char)*p] |= C_WORD;
    }
    for (p = "-.!%*_+`'~()<>:\\\"/[]?{}"; *p; p++) {
        ctab[(unsigned char)*p] |= C_WORD;
    }
}

#define IS(c, cls) ((c) < 128 && (ctab[(c)] & (cls)))
#define IS_WS(c) ((c) == ' ' || (c) == '\t')

/* ------------------------------------------------------------------------ */
/* configuration: classes, slot offsets, shared objects                     */
/* ------------------------------------------------------------------------ */

enum { URI_HEADERS, URI_PARAMS, URI_PTEXT, URI_HOST, URI_OPAQUE, URI_PASSWORD, URI_PORT,
       URI_SCHEME, URI_USER, URI_NSLOTS };
static const char *uri_slots[] = {"_headers", "_params", "_ptext", "host", "opaque",
                                  "password", "port", "scheme", "user", NULL};

enum { NA_PARAMS, NA_PTEXT, NA_QUOTED, NA_DISPLAY, NA_URI, NA_NSLOTS };
static const char *na_slots[] = {"_params", "_ptext", "_quoted", "display_name", "uri", NULL};

enum { VIA_PARAMS, VIA_PTEXT, VIA_QUOTED, VIA_HOST, VIA_PORT, VIA_PNAME, VIA_PVERSION,
       VIA_TRANSPORT, VIA_NSLOTS };
static const char *via_slots[] = {"_params", "_ptext", "_quoted", "host", "port",
                                  "protocol_name", "protocol_version", "transport", NULL};

enum { M_CACHE, M_HEADERS, M_NAMES, M_RAW, M_BODY, M_DEFECTS, M_VERSION, M_RURI,
       M_RURI_TEXT, M_METHOD, M_NSLOTS };
static const char *req_slots[] = {"_cache", "_headers", "_names", "_raw", "body", "defects",
                                  "version", "_ruri", "_ruri_text", "method", NULL};
enum { M_REASON = M_RURI, M_STATUS = M_RURI_TEXT, M_RESP_NSLOTS = M_METHOD };
static const char *resp_slots[] = {"_cache", "_headers", "_names", "_raw", "body", "defects",
                                   "version", "reason_phrase", "status_code", NULL};

enum { CSEQ_METHOD, CSEQ_SEQ, CSEQ_NSLOTS };
static const char *cseq_slots[] = {"method", "seq", NULL};

typedef struct {
    PyTypeObject *type;
    Py_ssize_t off[16];
} ClassInfo;

static ClassInfo uri_cls, na_cls, via_cls, req_cls, resp_cls, cseq_cls;
static int configured = 0;

static PyObject *no_quoted;   /* params.NO_QUOTED, the shared empty frozenset */
static PyObject *empty_fs;    /* params._EMPTY (the same object, as it happens) */
static PyObject *index_name;  /* names.index_name */
static PyObject *list_keys;   /* names.ENTITY_LIST_KEYS */
static PyObject *parse_error; /* websip.ParseError */
static PyObject *cl_key;      /* the index key "Content-Length" */
static PyObject *common_methods; /* abnf.COMMON_METHODS */
static PyObject *s_sip, *s_sips, *s_SIP, *s_version;

/* Header names as written on the wire -> (key, spelling, list?), for the names
 * configure() was given (the known names in their usual spellings and the
 * compact forms): a small open-addressing table over the raw bytes. */
#define NT_SIZE 1024
typedef struct {
    char *name;
    Py_ssize_t len;
    PyObject *key;
    PyObject *spelling; /* NULL when it is the key */
    int is_list;
} NameEntry;
static NameEntry ntab[NT_SIZE];

static unsigned int
name_hash(const char *s, Py_ssize_t n)
{
    unsigned int h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    return h;
}

static const NameEntry *
name_lookup(const char *s, Py_ssize_t n)
{
    unsigned int i = name_hash(s, n) & (NT_SIZE - 1);
    for (;;) {
        const NameEntry *e = &ntab[i];
        if (e->name == NULL) {
            return NULL;
        }
        if (e->len == n && memcmp(e->name, s, (size_t)n) == 0) {
            return e;
        }
        i = (i + 1) & (NT_SIZE - 1);
    }
}

static int
class_info(ClassInfo *ci, PyObject *cls, const char **slots)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "configure: a class was expected");
        return -1;
    }
    for (int i = 0; slots[i] != NULL; i++) {
        PyObject *d = PyObject_GetAttrString(cls, slots[i]);
        if (d == NULL) {
            return -1;
        }
        int ok = Py_IS_TYPE(d, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)d)->d_member->type == T_OBJECT_EX;
        if (ok) {
            ci->off[i] = ((PyMemberDescrObject *)d)->d_member->offset;
        }
        Py_DECREF(d);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "configure: %R.%s is not a slot", cls, slots[i]);
            return -1;
        }
    }
    /* Only plain slotted classes: no __dict__, so that every attribute the Python
     * code sets is one of the slots found above. */
    if (((PyTypeObject *)cls)->tp_dictoffset != 0) {
        PyErr_Format(PyExc_TypeError, "configure: %R has a __dict__", cls);
        return -1;
    }
    Py_INCREF(cls);
    Py_XSETREF(ci->type, (PyTypeObject *)cls);
    return 0;
}

/* A new, empty instance, as cls.__new__(cls) gives it. */
static PyObject *
new_instance(ClassInfo *ci)
{
    return ci->type->tp_alloc(ci->type, 0);
}

/* Sets a slot of a new instance, stealing the reference (NULL: leave it unset). */
static inline void
set_slot(PyObject *obj, ClassInfo *ci, int slot, PyObject *value)
{
    PyObject **p = (PyObject **)((char *)obj + ci->off[slot]);
    PyObject *old = *p;
    *p = value;
    Py_XDECREF(old);
}

static PyObject *
configure(PyObject *module, PyObject *spec)
{
    if (!PyDict_Check(spec)) {
        PyErr_SetString(PyExc_TypeError, "configure: a dict was expected");
        return NULL;
    }
    static const char *keys[] = {"URI", "NameAddr", "Via", "Request", "Response", "NO_QUOTED",
                                 "index_name", "ENTITY_LIST_KEYS", "ParseError", "names",
                                 "CSeq", "COMMON_METHODS", NULL};
    PyObject *v[12];
    for (int i = 0; keys[i] != NULL; i++) {
        v[i] = PyDict_GetItemString(spec, keys[i]);
        if (v[i] == NULL) {
            PyErr_Format(PyExc_KeyError, "configure: %s missing", keys[i]);
            return NULL;
        }
    }
    configured = 0;
    if (class_info(&uri_cls, v[0], uri_slots) < 0 || class_info(&na_cls, v[1], na_slots) < 0 ||
        class_info(&via_cls, v[2], via_slots) < 0 || class_info(&req_cls, v[3], req_slots) < 0 ||
        class_info(&resp_cls, v[4], resp_slots) < 0 || class_info(&cseq_cls, v[10], cseq_slots) < 0) {
        return NULL;
    }
    if (!PyAnySet_Check(v[11])) {
        PyErr_SetString(PyExc_TypeError, "configure: COMMON_METHODS must be a set");
        return NULL;
    }
    Py_INCREF(v[11]);
    Py_XSETREF(common_methods, v[11]);
    if (!PyFrozenSet_CheckExact(v[5]) || PySet_GET_SIZE(v[5]) != 0) {
        PyErr_SetString(PyExc_TypeError, "configure: NO_QUOTED must be an empty frozenset");
        return NULL;
    }
    if (!PyCallable_Check(v[6]) || !PyAnySet_Check(v[7]) || !PyType_Check(v[8]) ||
        !PyList_Check(v[9])) {
        PyErr_SetString(PyExc_TypeError, "configure: bad index_name/keys/ParseError/names");
        return NULL;
    }
    Py_INCREF(v[5]);
    Py_XSETREF(no_quoted, v[5]);
    Py_INCREF(v[5]);
    Py_XSETREF(empty_fs, v[5]);
    Py_INCREF(v[6]);
    Py_XSETREF(index_name, v[6]);
    Py_INCREF(v[7]);
    Py_XSETREF(list_keys, v[7]);
    Py_INCREF(v[8]);
    Py_XSETREF(parse_error, v[8]);
    Py_CLEAR(cl_key);

    /* the name table: [(written name, key, spelling, is_list), ...] */
    for (int i = 0; i < NT_SIZE; i++) {
        PyMem_Free(ntab[i].name);
        Py_CLEAR(ntab[i].key);
        Py_CLEAR(ntab[i].spelling);
        ntab[i].name = NULL;
    }
    PyObject *names = v[9];
    if (PyList_GET_SIZE(names) > NT_SIZE / 2) {
        PyErr_SetString(PyExc_ValueError, "configure: too many names");
        return NULL;
    }
    for (Py_ssize_t j = 0; j < PyList_GET_SIZE(names); j++) {
        PyObject *item = PyList_GET_ITEM(names, j);
        PyObject *written, *key, *spelling;
        int is_list;
        if (!PyArg_ParseTuple(item, "UUUp", &written, &key, &spelling, &is_list)) {
            return NULL;
        }
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(written, &len);
        if (s == NULL) {
            return NULL;
        }
        if (name_lookup(s, len) != NULL) {
            continue;
        }
        unsigned int h = name_hash(s, len) & (NT_SIZE - 1);
        while (ntab[h].name != NULL) {
            h = (h + 1) & (NT_SIZE - 1);
        }
        ntab[h].name = PyMem_Malloc((size_t)len + 1);
        if (ntab[h].name == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        memcpy(ntab[h].name, s, (size_t)len + 1);
        ntab[h].len = len;
        Py_INCREF(key);
        ntab[h].key = key;
        int same = PyUnicode_Compare(key, spelling);
        if (same == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (same != 0) {
            Py_INCREF(spelling);
            ntab[h].spelling = spelling;
        }
        ntab[h].is_list = is_list;
    }
    const NameEntry *e = name_lookup("Content-Length", 14);
    if (e == NULL) {
        PyErr_SetString(PyExc_ValueError, "configure: Content-Length is not a known name");
        return NULL;
    }
    Py_INCREF(e->key);
    cl_key = e->key;
    configured = 1;
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t n;
} UStr;

#define CH(u, i) PyUnicode_READ((u)->kind, (u)->data, (i))

static int
ustr_init(UStr *u, PyObject *text)
{
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) {
        return -1;
    }
#endif
    u->kind = PyUnicode_KIND(text);
    u->data = PyUnicode_DATA(text);
    u->n = PyUnicode_GET_LENGTH(text);
    return 0;
}

static Py_ssize_t
run(const UStr *u, Py_ssize_t p, unsigned short cls)
{
    while (p < u->n) {
        Py_UCS4 c = CH(u, p);
        if (!IS(c, cls)) {
            break;
        }
        p++;
    }
    return p;
}

static Py_ssize_t
skip_ws(const UStr *u, Py_ssize_t p)
{
    while (p < u->n && IS_WS(CH(u, p))) {
        p++;
    }
    return p;
}

/* quoted-string from the opening quote at p: the position after the closing
 * quote, or -1 (abnf.QUOTED_STRING). *escapes tells whether a quoted-pair occurs. */
static Py_ssize_t
scan_quoted(const UStr *u, Py_ssize_t p, int *escapes)
{
    p++;
    while (p < u->n) {
        Py_UCS4 c = CH(u, p);
        if (c == '"') {
            return p + 1;
        }
        if (c == '\r' || c == '\n') {
            return -1;
        }
        if (c == '\\') {
            if (p + 1 >= u->n) {
                return -1;
            }
            Py_UCS4 d = CH(u, p + 1);
            if (d == '\r' || d == '\n') {
                return -1;
            }
            if (escapes) {
                *escapes = 1;
            }
            p += 2;
            continue;
        }
        p++;
    }
    return -1;
}

/* params.GENERIC_PARAMS_SPAN from p: where the run of parameters ends. */
static Py_ssize_t
scan_params(const UStr *u, Py_ssize_t end)
{
    for (;;) {
        Py_ssize_t p = skip_ws(u, end);
        if (p >= u->n || CH(u, p) != ';') {
            return end;
        }
        p = skip_ws(u, p + 1);
        Py_ssize_t t = run(u, p, C_TOKEN);
        if (t == p) {
            return end;
        }
        p = t;
        Py_ssize_t q = skip_ws(u, p);
        if (q < u->n && CH(u, q) == '=') {
            q = skip_ws(u, q + 1);
            if (q < u->n && CH(u, q) == '"') {
                Py_ssize_t r = scan_quoted(u, q, NULL);
                if (r >= 0) {
                    p = r;
                }
            }
            else {
                Py_ssize_t r = run(u, q, C_GENV);
                if (r > q) {
                    p = r;
                }
            }
        }
        end = skip_ws(u, p);
    }
}

/* A new ASCII str of text[a:b] lower- (or upper-) cased; the slice itself when
 * it needs no change. The characters must be ASCII. */
static PyObject *
ascii_case(PyObject *text, const UStr *u, Py_ssize_t a, Py_ssize_t b, int upper)
{
    Py_ssize_t i;
    for (i = a; i < b; i++) {
        Py_UCS4 c = CH(u, i);
        if (upper ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) {
            break;
        }
    }
    if (i == b) {
        return PyUnicode_Substring(text, a, b);
    }
    PyObject *out = PyUnicode_New(b - a, 127);
    if (out == NULL) {
        return NULL;
    }
    Py_UCS1 *o = PyUnicode_1BYTE_DATA(out);
    for (i = a; i < b; i++) {
        Py_UCS4 c = CH(u, i);
        if (upper && c >= 'a' && c <= 'z') {
            c -= 32;
        }
        else if (!upper && c >= 'A' && c <= 'Z') {
            c += 32;
        }
        o[i - a] = (Py_UCS1)c;
    }
    return out;
}

/* abnf.is_valid_host for a host that matched abnf.HOSTNAME_LABELS (not an IPv6
 * reference): a valid dotted quad, or labels whose last is not all digits. */
static int
hostname_valid(const UStr *u, Py_ssize_t a, Py_ssize_t b)
{
    /* dotted quad of 1-3 digit parts (abnf.IPV4): valid iff every part <= 255 */
    int parts = 0, ok = 1;
    Py_ssize_t p = a;
    while (p < b) {
        Py_ssize_t s = p;
        int v = 0;
        while (p < b && p - s < 4 && IS(CH(u, p), C_DIGIT)) {
            v = v * 10 + (int)(CH(u, p) - '0');
            p++;
        }
        if (p == s || p - s > 3) {
            ok = 0;
            break;
        }
        if (v > 255) {
            ok = -1; /* a dotted quad, but not a valid one */
        }
        parts++;
        if (p < b) {
            if (CH(u, p) != '.' || parts == 4) {
                ok = 0;
                break;
            }
            p++;
            if (p == b) {
                ok = 0; /* trailing dot */
                break;
            }
        }
    }
    if (ok != 0 && parts == 4) {
        return ok == 1;
    }
    /* labels (a trailing dot dropped): one label, or a last one not all digits */
    Py_ssize_t end = b;
    if (end > a && CH(u, end - 1) == '.') {
        end--;
    }
    Py_ssize_t last = end;
    while (last > a && CH(u, last - 1) != '.') {
        last--;
    }
    if (last == a) {
        return 1;
    }
    for (Py_ssize_t i = last; i < end; i++) {
        if (!IS(CH(u, i), C_DIGIT)) {
            return 1;
        }
    }
    return 0; /* an all-digit last label (an empty one cannot occur here) */
}

static Py_ssize_t
scan_hostname(const UStr *u, Py_ssize_t p)
{
    /* abnf.HOSTNAME_LABELS */
    Py_ssize_t q = run(u, p, C_HOST);
    if (q == p) {
        return -1;
    }
    while (q + 1 < u->n && CH(u, q) == '.' && IS(CH(u, q + 1), C_HOST)) {
        q = run(u, q + 1, C_HOST);
    }
    if (q < u->n && CH(u, q) == '.') {
        q++;
    }
    return q;
}

/* ------------------------------------------------------------------------ */
/* SIP URI (uri.SIP_URI + uri.sip_uri)                                      */
/* ------------------------------------------------------------------------ */

/* Matches SIP_URI at p and builds the URI as uri.sip_uri does. Returns the URI
 * and sets *endp, or NULL without an exception: not the usual shape (the
 * caller falls back), or NULL with one (out of memory). */
static PyObject *
sip_uri_at(PyObject *text, const UStr *u, Py_ssize_t p, Py_ssize_t *endp)
{
    Py_ssize_t n = u->n;
    /* ([sS][iI][pP][sS]?): */
    if (p + 4 > n || (CH(u, p) | 32) != 's' || (CH(u, p + 1) | 32) != 'i' ||
        (CH(u, p + 2) | 32) != 'p') {
        return NULL;
    }
    int sips = 0;
    p += 3;
    if ((CH(u, p) | 32) == 's') {
        sips = 1;
        p++;
    }
    if (p >= n || CH(u, p) != ':') {
        return NULL;
    }
    p++;
    /* (?:(user)(?::(password))?@)? : the user run is possessive, so a "@" after
     * it (and its password) decides; without one there is no userinfo. */
    Py_ssize_t user_a = -1, user_b = -1, pw_a = -1, pw_b = -1;
    Py_ssize_t q = run(u, p, C_USER);
    if (q > p && q < n) {
        if (CH(u, q) == '@') {
            user_a = p;
            user_b = q;
        }
        else if (CH(u, q) == ':') {
            Py_ssize_t r = run(u, q + 1, C_PASSWORD);
            if (r < n && CH(u, r) == '@') {
                user_a = p;
                user_b = q;
                pw_a = q + 1;
                pw_b = r;
                q = r;
            }
        }
    }
    if (user_a >= 0) {
        p = q + 1;
    }
    /* host: an IPv6 reference goes to Python (is_valid_host's IPv6 check) */
    if (p >= n || CH(u, p) == '[') {
        return NULL;
    }
    Py_ssize_t host_a = p, host_b = scan_hostname(u, p);
    if (host_b < 0) {
        return NULL;
    }
    p = host_b;
    long port = -1;
    if (p + 1 < n && CH(u, p) == ':' && IS(CH(u, p + 1), C_DIGIT)) {
        Py_ssize_t d = run(u, p + 1, C_DIGIT);
        if (d - (p + 1) > 5) {
            return NULL; /* out of range: Python raises */
        }
        port = 0;
        for (Py_ssize_t i = p + 1; i < d; i++) {
            port = port * 10 + (long)(CH(u, i) - '0');
        }
        if (port > 65535) {
            return NULL;
        }
        p = d;
    }
    Py_ssize_t par_a = p;
    while (p < n && CH(u, p) == ';') {
        p = run(u, p + 1, C_UPARAM);
    }
    Py_ssize_t par_b = p;
    if (p < n && CH(u, p) == '?') {
        return NULL; /* URI headers: Python */
    }
    /* the checks of sip_uri */
    Py_UCS4 last = CH(u, host_b - 1);
    if (last >= '0' && last <= '9' && !hostname_valid(u, host_a, host_b)) {
        return NULL;
    }
    for (Py_ssize_t i = (user_a >= 0 ? user_a : 0); user_a >= 0 && i < user_b; i++) {
        if (CH(u, i) == '%') {
            return NULL; /* unescaping: Python */
        }
    }
    for (Py_ssize_t i = (pw_a >= 0 ? pw_a : 0); pw_a >= 0 && i < pw_b; i++) {
        if (CH(u, i) == '%') {
            return NULL;
        }
    }
    if (par_b > par_a) {
        /* uri._uri_params_need_work: ";;", ";=", a trailing ";", "%" */
        if (CH(u, par_b - 1) == ';') {
            return NULL;
        }
        for (Py_ssize_t i = par_a; i < par_b; i++) {
            Py_UCS4 c = CH(u, i);
            if (c == '%') {
                return NULL;
            }
            if (c == ';' && i + 1 < par_b) {
                Py_UCS4 d = CH(u, i + 1);
                if (d == ';' || d == '=') {
                    return NULL;
                }
            }
        }
    }
    *endp = p;

    PyObject *uri = new_instance(&uri_cls);
    if (uri == NULL) {
        return NULL;
    }
    PyObject *o;
    Py_INCREF(sips ? s_sips : s_sip);
    set_slot(uri, &uri_cls, URI_SCHEME, sips ? s_sips : s_sip);
    if (user_a >= 0) {
        if ((o = PyUnicode_Substring(text, user_a, user_b)) == NULL) {
            goto error;
        }
        set_slot(uri, &uri_cls, URI_USER, o);
    }
    else {
        Py_INCREF(Py_None);
        set_slot(uri, &uri_cls, URI_USER, Py_None);
    }
    if (pw_a >= 0) {
        if ((o = PyUnicode_Substring(text, pw_a, pw_b)) == NULL) {
            goto error;
        }
        set_slot(uri, &uri_cls, URI_PASSWORD, o);
    }
    else {
        Py_INCREF(Py_None);
        set_slot(uri, &uri_cls, URI_PASSWORD, Py_None);
    }
    if ((o = ascii_case(text, u, host_a, host_b, 0)) == NULL) {
        goto error;
    }
    set_slot(uri, &uri_cls, URI_HOST, o);
    if (port >= 0) {
        if ((o = PyLong_FromLong(port)) == NULL) {
            goto error;
        }
    }
    else {
        o = Py_None;
        Py_INCREF(o);
    }
    set_slot(uri, &uri_cls, URI_PORT, o);
    if (par_b == par_a) {
        /* no parameters: _params None, _ptext "" (as uri.sip_uri) */
        if ((o = PyUnicode_New(0, 0)) == NULL) {
            goto error;
        }
        set_slot(uri, &uri_cls, URI_PTEXT, o);
        Py_INCREF(Py_None);
        set_slot(uri, &uri_cls, URI_PARAMS, Py_None);
    }
    else {
        if ((o = PyUnicode_Substring(text, par_a, par_b)) == NULL) {
            goto error;
        }
        set_slot(uri, &uri_cls, URI_PTEXT, o);
        Py_INCREF(Py_None);
        set_slot(uri, &uri_cls, URI_PARAMS, Py_None);
    }
    /* no URI headers (a URI with some is left to Python): made on access */
    Py_INCREF(Py_None);
    set_slot(uri, &uri_cls, URI_HEADERS, Py_None);
    Py_INCREF(Py_None);
    set_slot(uri, &uri_cls, URI_OPAQUE, Py_None);
    return uri;
error:
    Py_DECREF(uri);
    return NULL;
}

/* Calls fallback(*args) when the fast path did not apply (result NULL and no
 * exception), else passes the result or the exception on. */
static PyObject *
or_fallback(PyObject *result, PyObject *fallback, PyObject *const *args, Py_ssize_t nargs)
{
    if (result != NULL || PyErr_Occurred()) {
        return result;
    }
    if (fallback == Py_None) {
        Py_RETURN_NONE;
    }
    return PyObject_Vectorcall(fallback, args, (size_t)nargs, NULL);
}

static int
check_args(const char *name, Py_ssize_t nargs, Py_ssize_t want)
{
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "websip.sip._speedups is not configured");
        return -1;
    }
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments", name, want);
        return -1;
    }
    return 0;
}

/* sip_uri(fallback, text): URI.parse for the usual SIP/SIPS URI. */
static PyObject *
py_sip_uri(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("sip_uri", nargs, 2) < 0) {
        return NULL;
    }
    PyObject *text = args[1], *result = NULL;
    UStr u;
    if (PyUnicode_CheckExact(text)) {
        if (ustr_init(&u, text) < 0) {
            return NULL;
        }
        Py_ssize_t end;
        result = sip_uri_at(text, &u, 0, &end);
        if (result != NULL && end != u.n) {
            Py_CLEAR(result);
        }
    }
    return or_fallback(result, args[0], args + 1, 1);
}

/* ------------------------------------------------------------------------ */
/* name-addr (headers._SIP_NAME_ADDR_RE + headers._parse_name_addr)         */
/* ------------------------------------------------------------------------ */

static PyObject *
name_addr_fast(PyObject *text)
{
    UStr u;
    if (ustr_init(&u, text) < 0) {
        return NULL;
    }
    Py_ssize_t n = u.n, p = skip_ws(&u, 0), disp_a = -1, disp_b = -1;
    if (p < n && CH(&u, p) == '"') {
        int escapes = 0;
        Py_ssize_t q = scan_quoted(&u, p, &escapes);
        if (q < 0 || escapes) {
            return NULL; /* unterminated, or to be unescaped: Python */
        }
        disp_a = p + 1;
        disp_b = q - 1;
        p = skip_ws(&u, q);
    }
    if (p >= n || CH(&u, p) != '<') {
        return NULL;
    }
    Py_ssize_t end;
    PyObject *uri = sip_uri_at(text, &u, p + 1, &end);
    if (uri == NULL) {
        return NULL;
    }
    if (end >= n || CH(&u, end) != '>') {
        Py_DECREF(uri);
        return NULL;
    }
    Py_ssize_t par_a = end + 1, par_b = scan_params(&u, par_a);
    if (skip_ws(&u, par_b) != n) {
        Py_DECREF(uri);
        return NULL;
    }
    PyObject *na = new_instance(&na_cls);
    if (na == NULL) {
        Py_DECREF(uri);
        return NULL;
    }
    set_slot(na, &na_cls, NA_URI, uri);
    PyObject *o;
    if (disp_a >= 0) {
        if ((o = PyUnicode_Substring(text, disp_a, disp_b)) == NULL) {
            goto error;
        }
    }
    else {
        o = Py_None;
        Py_INCREF(o);
    }
    set_slot(na, &na_cls, NA_DISPLAY, o);
    Py_INCREF(Py_None);
    set_slot(na, &na_cls, NA_PARAMS, Py_None);
    if ((o = PyUnicode_Substring(text, par_a, par_b)) == NULL) {
        goto error;
    }
    set_slot(na, &na_cls, NA_PTEXT, o);
    Py_INCREF(no_quoted);
    set_slot(na, &na_cls, NA_QUOTED, no_quoted);
    return na;
error:
    Py_DECREF(na);
    return NULL;
}

/* name_addr(fallback, header, text) */
static PyObject *
py_name_addr(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("name_addr", nargs, 3) < 0) {
        return NULL;
    }
    PyObject *result = PyUnicode_CheckExact(args[2]) ? name_addr_fast(args[2]) : NULL;
    return or_fallback(result, args[0], args + 1, 2);
}

/* ------------------------------------------------------------------------ */
/* Via (headers._VIA_FAST_RE + Via.parse)                                   */
/* ------------------------------------------------------------------------ */

static PyObject *
via_fast(PyObject *text)
{
    UStr u;
    if (ustr_init(&u, text) < 0) {
        return NULL;
    }
    Py_ssize_t n = u.n, p = skip_ws(&u, 0);
    Py_ssize_t tok[3][2];
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            p = skip_ws(&u, p);
            if (p >= n || CH(&u, p) != '/') {
                return NULL;
            }
            p = skip_ws(&u, p + 1);
        }
        Py_ssize_t q = run(&u, p, C_TOKEN);
        if (q == p) {
            return NULL;
        }
        tok[i][0] = p;
        tok[i][1] = q;
        p = q;
    }
    Py_ssize_t q = skip_ws(&u, p);
    if (q == p) {
        return NULL;
    }
    p = q;
    if (p >= n || CH(&u, p) == '[') {
        return NULL; /* IPv6: Python */
    }
    Py_ssize_t host_a = p, host_b = scan_hostname(&u, p);
    if (host_b < 0) {
        return NULL;
    }
    p = host_b;
    long port = -1;
    q = skip_ws(&u, p);
    if (q < n && CH(&u, q) == ':') {
        q = skip_ws(&u, q + 1);
        Py_ssize_t d = run(&u, q, C_DIGIT);
        if (d == q || d - q > 5) {
            return NULL;
        }
        port = 0;
        for (Py_ssize_t i = q; i < d; i++) {
            port = port * 10 + (long)(CH(&u, i) - '0');
        }
        if (port > 65535) {
            return NULL;
        }
        p = d;
    }
    Py_ssize_t par_a = p, par_b = scan_params(&u, p);
    if (skip_ws(&u, par_b) != n) {
        return NULL;
    }
    Py_UCS4 last = CH(&u, host_b - 1);
    int alpha = (last >= 'a' && last <= 'z') || (last >= 'A' && last <= 'Z');
    if (!alpha && !hostname_valid(&u, host_a, host_b)) {
        return NULL;
    }
    PyObject *via = new_instance(&via_cls), *o;
    if (via == NULL) {
        return NULL;
    }
    Py_ssize_t a = tok[0][0], b = tok[0][1];
    if (b - a == 3 && CH(&u, a) == 'S' && CH(&u, a + 1) == 'I' && CH(&u, a + 2) == 'P') {
        o = s_SIP;
        Py_INCREF(o);
    }
    else if ((o = ascii_case(text, &u, a, b, 1)) == NULL) {
        goto error;
    }
    set_slot(via, &via_cls, VIA_PNAME, o);
    if ((o = PyUnicode_Substring(text, tok[1][0], tok[1][1])) == NULL) {
        goto error;
    }
    set_slot(via, &via_cls, VIA_PVERSION, o);
    if ((o = ascii_case(text, &u, tok[2][0], tok[2][1], 1)) == NULL) {
        goto error;
    }
    set_slot(via, &via_cls, VIA_TRANSPORT, o);
    if ((o = ascii_case(text, &u, host_a, host_b, 0)) == NULL) {
        goto error;
    }
    set_slot(via, &via_cls, VIA_HOST, o);
    if (port >= 0) {
        if ((o = PyLong_FromLong(port)) == NULL) {
            goto error;
        }
    }
    else {
        o = Py_None;
        Py_INCREF(o);
    }
    set_slot(via, &via_cls, VIA_PORT, o);
    Py_INCREF(Py_None);
    set_slot(via, &via_cls, VIA_PARAMS, Py_None);
    if ((o = PyUnicode_Substring(text, par_a, par_b)) == NULL) {
        goto error;
    }
    set_slot(via, &via_cls, VIA_PTEXT, o);
    Py_INCREF(no_quoted);
    set_slot(via, &via_cls, VIA_QUOTED, no_quoted);
    return via;
error:
    Py_DECREF(via);
    return NULL;
}

/* via(fallback, text) */
static PyObject *
py_via(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("via", nargs, 2) < 0) {
        return NULL;
    }
    PyObject *result = PyUnicode_CheckExact(args[1]) ? via_fast(args[1]) : NULL;
    return or_fallback(result, args[0], args + 1, 1);
}

/* ------------------------------------------------------------------------ */
/* generic parameters (params.read_generic_params)                          */
/* ------------------------------------------------------------------------ */

/* The unquoted content of the quoted-string text[a:b] (quotes included). */
static PyObject *
unquote(PyObject *text, const UStr *u, Py_ssize_t a, Py_ssize_t b)
{
    Py_ssize_t i;
    a++;
    b--;
    for (i = a; i < b; i++) {
        if (CH(u, i) == '\\') {
            break;
        }
    }
    if (i == b) {
        return PyUnicode_Substring(text, a, b);
    }
    Py_UCS4 *buf = PyMem_Malloc(sizeof(Py_UCS4) * (size_t)(b - a + 1));
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    Py_ssize_t k = 0;
    for (i = a; i < b; i++) {
        Py_UCS4 c = CH(u, i);
        if (c == '\\' && i + 1 < b) {
            buf[k++] = CH(u, i + 1);
            i++;
        }
        else {
            buf[k++] = c;
        }
    }
    PyObject *out = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, k);
    PyMem_Free(buf);
    return out;
}

/* (params, quoted) for parameter text that the span accepted; NULL without an
 * exception when the text is not all parameters (the caller falls back). */
static PyObject *
params_fast(PyObject *text)
{
    UStr u;
    if (ustr_init(&u, text) < 0) {
        return NULL;
    }
    if (scan_params(&u, 0) != u.n) {
        return NULL;
    }
    PyObject *params = PyDict_New(), *quoted = NULL, *name = NULL, *value = NULL;
    if (params == NULL) {
        return NULL;
    }
    Py_ssize_t p = 0, n = u.n;
    while (p < n) {
        p = skip_ws(&u, p);
        if (p >= n) {
            break;
        }
        /* CH(p) == ';' : scan_params checked it */
        p = skip_ws(&u, p + 1);
        Py_ssize_t t = run(&u, p, C_TOKEN);
        if ((name = ascii_case(text, &u, p, t, 0)) == NULL) {
            goto error;
        }
        p = t;
        int is_quoted = 0;
        Py_ssize_t q = skip_ws(&u, p);
        if (q < n && CH(&u, q) == '=') {
            q = skip_ws(&u, q + 1);
            if (q < n && CH(&u, q) == '"') {
                Py_ssize_t r = scan_quoted(&u, q, NULL);
                if (r >= 0) {
                    if ((value = unquote(text, &u, q, r)) == NULL) {
                        goto error;
                    }
                    is_quoted = 1;
                    p = r;
                }
            }
            else {
                Py_ssize_t r = run(&u, q, C_GENV);
                if (r > q) {
                    if ((value = PyUnicode_Substring(text, q, r)) == NULL) {
                        goto error;
                    }
                    p = r;
                }
            }
        }
        if (value == NULL) {
            value = Py_None;
            Py_INCREF(value);
        }
        if (PyDict_SetItem(params, name, value) < 0) {
            goto error;
        }
        if (is_quoted) {
            if (quoted == NULL && (quoted = PySet_New(NULL)) == NULL) {
                goto error;
            }
            if (PySet_Add(quoted, name) < 0) {
                goto error;
            }
        }
        Py_CLEAR(name);
        Py_CLEAR(value);
        p = skip_ws(&u, p);
    }
    PyObject *fs;
    if (quoted == NULL) {
        fs = empty_fs;
        Py_INCREF(fs);
    }
    else {
        fs = PyFrozenSet_New(quoted);
        Py_DECREF(quoted);
        if (fs == NULL) {
            Py_DECREF(params);
            return NULL;
        }
    }
    PyObject *result = PyTuple_New(2);
    if (result == NULL) {
        Py_DECREF(params);
        Py_DECREF(fs);
        return NULL;
    }
    PyTuple_SET_ITEM(result, 0, params);
    PyTuple_SET_ITEM(result, 1, fs);
    return result;
error:
    Py_XDECREF(name);
    Py_XDECREF(value);
    Py_XDECREF(quoted);
    Py_DECREF(params);
    return NULL;
}

/* generic_params(fallback, text) */
static PyObject *
py_generic_params(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("generic_params", nargs, 2) < 0) {
        return NULL;
    }
    PyObject *result = PyUnicode_CheckExact(args[1]) ? params_fast(args[1]) : NULL;
    return or_fallback(result, args[0], args + 1, 1);
}

/* ------------------------------------------------------------------------ */
/* CSeq, Call-ID, token lists                                               */
/* ------------------------------------------------------------------------ */

/* CSeq.parse's fast path: "1*10DIGIT SP known-method" exactly. */
static PyObject *
cseq_fast(PyObject *text)
{
    UStr u;
    if (ustr_init(&u, text) < 0) {
        return NULL;
    }
    Py_ssize_t d = run(&u, 0, C_DIGIT);
    if (d == 0 || d > 10 || d >= u.n || CH(&u, d) != ' ') {
        return NULL;
    }
    long long seq = 0;
    for (Py_ssize_t i = 0; i < d; i++) {
        seq = seq * 10 + (long long)(CH(&u, i) - '0');
    }
    if (seq > 0xFFFFFFFFLL) {
        return NULL;
    }
    PyObject *method = PyUnicode_Substring(text, d + 1, u.n);
    if (method == NULL) {
        return NULL;
    }
    int known = PySet_Contains(common_methods, method);
    if (known <= 0) {
        Py_DECREF(method);
        return NULL; /* (known < 0: the exception is passed on) */
    }
    PyObject *cseq = new_instance(&cseq_cls), *o;
    if (cseq == NULL) {
        Py_DECREF(method);
        return NULL;
    }
    set_slot(cseq, &cseq_cls, CSEQ_METHOD, method);
    if ((o = PyLong_FromLongLong(seq)) == NULL) {
        Py_DECREF(cseq);
        return NULL;
    }
    set_slot(cseq, &cseq_cls, CSEQ_SEQ, o);
    return cseq;
}

/* cseq(fallback, text) */
static PyObject *
py_cseq(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("cseq", nargs, 2) < 0) {
        return NULL;
    }
    PyObject *result = PyUnicode_CheckExact(args[1]) ? cseq_fast(args[1]) : NULL;
    return or_fallback(result, args[0], args + 1, 1);
}

/* headers._parse_call_id: word [ "@" word ], stripped. */
static PyObject *
call_id_fast(PyObject *text)
{
    UStr u;
    if (ustr_init(&u, text) < 0) {
        return NULL;
    }
    Py_ssize_t a = skip_ws(&u, 0), b = u.n;
    while (b > a && IS_WS(CH(&u, b - 1))) {
        b--;
    }
    Py_ssize_t w = run(&u, a, C_WORD);
    if (w == a) {
        return NULL;
    }
    if (w < b && CH(&u, w) == '@') {
        Py_ssize_t w2 = run(&u, w + 1, C_WORD);
        if (w2 == w + 1) {
            return NULL;
        }
        w = w2;
    }
    if (w != b) {
        return NULL;
    }
    if (a == 0 && b == u.n) {
        Py_INCREF(text);
        return text;
    }
    return PyUnicode_Substring(text, a, b);
}

/* call_id(fallback, text) */
static PyObject *
py_call_id(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("call_id", nargs, 2) < 0) {
        return NULL;
    }
    PyObject *result = PyUnicode_CheckExact(args[1]) ? call_id_fast(args[1]) : NULL;
    return or_fallback(result, args[0], args + 1, 1);
}

/* A token list's fast path: token *( "," token ), no whitespace. */
static PyObject *
tokens_fast(PyObject *text)
{
    UStr u;
    if (ustr_init(&u, text) < 0) {
        return NULL;
    }
    Py_ssize_t p = 0;
    for (;;) {
        Py_ssize_t t = run(&u, p, C_TOKEN);
        if (t == p) {
            return NULL;
        }
        if (t == u.n) {
            break;
        }
        if (CH(&u, t) != ',') {
            return NULL;
        }
        p = t + 1;
    }
    PyObject *list = PyList_New(0);
    if (list == NULL) {
        return NULL;
    }
    for (p = 0; p < u.n;) {
        Py_ssize_t t = run(&u, p, C_TOKEN);
        PyObject *s = PyUnicode_Substring(text, p, t);
        if (s == NULL || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(s);
        p = t + 1;
    }
    return list;
}

/* tokens(fallback, text) */
static PyObject *
py_tokens(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("tokens", nargs, 2) < 0) {
        return NULL;
    }
    PyObject *result = PyUnicode_CheckExact(args[1]) ? tokens_fast(args[1]) : NULL;
    return or_fallback(result, args[0], args + 1, 1);
}

/* ------------------------------------------------------------------------ */
/* framing (message.parse_message's fast path, headers normalised at once)  */
/* ------------------------------------------------------------------------ */

/* UTF-8 text of d[a:b]; NULL without an exception when it is not UTF-8. */
static PyObject *
decode(const char *d, Py_ssize_t a, Py_ssize_t b)
{
    PyObject *s = PyUnicode_DecodeUTF8(d + a, b - a, NULL);
    if (s == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
    }
    return s;
}

/* Appends the stripped value d[a:b] to values, cut into list entries at
 * top-level commas when is_list (headers.split_list). 0, or -1 with or
 * without an exception (without: not UTF-8). */
static int
append_value(PyObject *values, const char *d, Py_ssize_t a, Py_ssize_t b, int is_list)
{
    while (a < b && IS_WS((unsigned char)d[a])) {
        a++;
    }
    while (b > a && IS_WS((unsigned char)d[b - 1])) {
        b--;
    }
    if (is_list && memchr(d + a, ',', (size_t)(b - a)) != NULL) {
        Py_ssize_t i = a, start = a;
        for (;;) {
            int at_end = i >= b;
            if (at_end || d[i] == ',') {
                Py_ssize_t ea = start, eb = at_end ? b : i;
                while (ea < eb && IS_WS((unsigned char)d[ea])) {
                    ea++;
                }
                while (eb > ea && IS_WS((unsigned char)d[eb - 1])) {
                    eb--;
                }
                PyObject *s = decode(d, ea, eb);
                if (s == NULL) {
                    return -1;
                }
                int rc = PyList_Append(values, s);
                Py_DECREF(s);
                if (rc < 0) {
                    return -1;
                }
                if (at_end) {
                    return 0;
                }
                start = ++i;
                continue;
            }
            if (d[i] == '"') {
                /* a quoted string: to the closing quote, or to the end */
                i++;
                while (i < b && d[i] != '"') {
                    i += d[i] == '\\' ? 2 : 1;
                }
                i = i < b ? i + 1 : b;
            }
            else if (d[i] == '<') {
                const char *gt = memchr(d + i, '>', (size_t)(b - i));
                i = gt != NULL ? (gt - d) + 1 : b;
            }
            else {
                i++;
            }
        }
    }
    PyObject *s = decode(d, a, b);
    if (s == NULL) {
        return -1;
    }
    int rc = PyList_Append(values, s);
    Py_DECREF(s);
    return rc;
}

static Py_ssize_t
find_crlfcrlf(const char *d, Py_ssize_t start, Py_ssize_t n)
{
    const char *p = d + start, *end = d + n;
    while (p + 4 <= end) {
        const char *cr = memchr(p, '\r', (size_t)(end - p));
        if (cr == NULL || cr + 4 > end) {
            return -1;
        }
        if (cr[1] == '\n' && cr[2] == '\r' && cr[3] == '\n') {
            return cr - d;
        }
        p = cr + 1;
    }
    return -1;
}

static PyObject *
frame_message(PyObject *data, Py_ssize_t max_size, Py_ssize_t max_headers,
              Py_ssize_t max_line)
{
    const char *d = PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (n > max_size) {
        return NULL;
    }
    Py_ssize_t start = 0;
    while (start + 1 < n && d[start] == '\r' && d[start + 1] == '\n') {
        start += 2;
    }
    Py_ssize_t end = find_crlfcrlf(d, start, n);
    if (end <= start) {
        return NULL;
    }
    /* Lines: no bare CR or LF, no continuation line, within the limits. */
    Py_ssize_t lines = 0, ls = start;
    for (Py_ssize_t i = start; i <= end; i++) {
        if (i == end || d[i] == '\r') {
            if (i < end && d[i + 1] != '\n') {
                return NULL;
            }
            if (i - ls > max_line) {
                return NULL;
            }
            if (lines > 0 && IS_WS((unsigned char)d[ls])) {
                return NULL;
            }
            lines++;
            i++;
            ls = i + 1;
        }
        else if (d[i] == '\n') {
            return NULL;
        }
    }
    if (lines - 1 > max_headers) {
        return NULL;
    }

    PyObject *msg = NULL, *headers = NULL, *names = NULL, *cache = NULL, *o;
    const char *nl = memchr(d + start, '\r', (size_t)(end - start + 1));
    Py_ssize_t e0 = nl - d; /* the end of the start line (d[end] is CR) */
    Py_ssize_t len0 = e0 - start;
    const char *l0 = d + start;
    if (len0 == 0) {
        return NULL;
    }
    int response = len0 >= 4 && memcmp(l0, "SIP/", 4) == 0;
    if (response) {
        if (len0 < 11 || memcmp(l0, "SIP/2.0 ", 8) != 0 || !IS((unsigned char)l0[8], C_DIGIT) ||
            !IS((unsigned char)l0[9], C_DIGIT) || !IS((unsigned char)l0[10], C_DIGIT) ||
            (len0 > 11 && l0[11] != ' ')) {
            return NULL;
        }
        long status = (l0[8] - '0') * 100 + (l0[9] - '0') * 10 + (l0[10] - '0');
        if (status < 100 || status > 699) {
            return NULL;
        }
        PyObject *reason = decode(d, len0 > 12 ? start + 12 : e0, e0);
        if (reason == NULL) {
            return NULL;
        }
        if ((msg = new_instance(&resp_cls)) == NULL) {
            Py_DECREF(reason);
            return NULL;
        }
        set_slot(msg, &resp_cls, M_REASON, reason);
        if ((o = PyLong_FromLong(status)) == NULL) {
            goto error;
        }
        set_slot(msg, &resp_cls, M_STATUS, o);
    }
    else {
        /* Method SP Request-URI SP SIP-Version, nothing after the version */
        if (IS_WS((unsigned char)l0[len0 - 1])) {
            return NULL;
        }
        const char *sp1 = memchr(l0, ' ', (size_t)len0);
        if (sp1 == NULL || sp1 == l0) {
            return NULL;
        }
        Py_ssize_t sp2 = len0 - 1;
        while (sp2 > sp1 - l0 && l0[sp2] != ' ') {
            sp2--;
        }
        if (sp2 == sp1 - l0 || len0 - sp2 - 1 != 7 || memcmp(l0 + sp2 + 1, "SIP/2.0", 7) != 0) {
            return NULL;
        }
        for (const char *c = l0; c < sp1; c++) {
            if (!IS((unsigned char)*c, C_TOKEN)) {
                return NULL;
            }
        }
        Py_ssize_t ra = sp1 - l0 + 1;
        if (ra >= sp2) {
            return NULL; /* empty Request-URI: a defect */
        }
        for (Py_ssize_t i = ra; i < sp2; i++) {
            if (IS_WS((unsigned char)l0[i])) {
                return NULL;
            }
        }
        PyObject *method = PyUnicode_DecodeASCII(l0, sp1 - l0, NULL);
        if (method == NULL) {
            return NULL;
        }
        PyObject *ruri = decode(d, start + ra, start + sp2);
        if (ruri == NULL) {
            Py_DECREF(method);
            return NULL;
        }
        if ((msg = new_instance(&req_cls)) == NULL) {
            Py_DECREF(method);
            Py_DECREF(ruri);
            return NULL;
        }
        set_slot(msg, &req_cls, M_METHOD, method);
        set_slot(msg, &req_cls, M_RURI_TEXT, ruri);
        Py_INCREF(Py_None);
        set_slot(msg, &req_cls, M_RURI, Py_None);
    }
    ClassInfo *ci = response ? &resp_cls : &req_cls;

    /* the header index, normalised (message._normalize) */
    if ((headers = PyDict_New()) == NULL || (names = PyDict_New()) == NULL) {
        goto error;
    }
    Py_ssize_t cl_lines = 0, cl_a = 0, cl_b = 0;
    for (Py_ssize_t a = e0 + 2; a < end + 2;) {
        const char *cr = memchr(d + a, '\r', (size_t)(end + 2 - a));
        Py_ssize_t b = cr - d;
        const char *colon = memchr(d + a, ':', (size_t)(b - a));
        if (colon == NULL) {
            goto fallback;
        }
        Py_ssize_t c = colon - d, nb = c;
        while (nb > a && IS_WS((unsigned char)d[nb - 1])) {
            nb--;
        }
        PyObject *key, *spelling;
        int is_list;
        const NameEntry *e = name_lookup(d + a, nb - a);
        if (e != NULL) {
            key = e->key;
            spelling = e->spelling;
            is_list = e->is_list;
            Py_INCREF(key);
            Py_XINCREF(spelling);
        }
        else {
            PyObject *name = decode(d, a, nb);
            if (name == NULL) {
                goto error_or_fallback;
            }
            PyObject *ks = PyObject_CallOneArg(index_name, name);
            Py_DECREF(name);
            if (ks == NULL) {
                if (PyErr_ExceptionMatches(parse_error)) {
                    PyErr_Clear(); /* not a token: a defect */
                }
                goto error_or_fallback;
            }
            if (!PyTuple_CheckExact(ks) || PyTuple_GET_SIZE(ks) != 2) {
                Py_DECREF(ks);
                PyErr_SetString(PyExc_TypeError, "index_name must return a pair");
                goto error;
            }
            key = PyTuple_GET_ITEM(ks, 0);
            spelling = PyTuple_GET_ITEM(ks, 1);
            Py_INCREF(key);
            Py_INCREF(spelling);
            Py_DECREF(ks);
            is_list = PySet_Contains(list_keys, key);
            int same = is_list < 0 ? -1 : PyObject_RichCompareBool(key, spelling, Py_EQ);
            if (same < 0) {
                Py_DECREF(key);
                Py_DECREF(spelling);
                goto error;
            }
            if (same) {
                Py_CLEAR(spelling);
            }
        }
        PyObject *values = PyDict_GetItemWithError(headers, key);
        if (values == NULL) {
            if (PyErr_Occurred() || (values = PyList_New(0)) == NULL ||
                PyDict_SetItem(headers, key, values) < 0 ||
                (spelling != NULL && PyDict_SetItem(names, key, spelling) < 0)) {
                Py_XDECREF(values);
                Py_DECREF(key);
                Py_XDECREF(spelling);
                goto error;
            }
            Py_DECREF(values); /* the dict holds it */
        }
        Py_XDECREF(spelling);
        int is_cl = key == cl_key;
        if (!is_cl && PyUnicode_Check(key) && PyUnicode_GET_LENGTH(key) == 14) {
            is_cl = PyUnicode_Compare(key, cl_key) == 0; /* a key from index_name */
        }
        if (is_cl) {
            cl_lines++;
            cl_a = c + 1;
            cl_b = b;
        }
        Py_DECREF(key);
        if (append_value(values, d, c + 1, b, is_list) < 0) {
            goto error_or_fallback;
        }
        a = b + 2;
    }

    /* the body, by Content-Length */
    Py_ssize_t body_start = end + 4, body_len = n - body_start;
    if ((cache = PyDict_New()) == NULL) {
        goto error;
    }
    if (cl_lines > 1) {
        goto fallback;
    }
    if (cl_lines == 1) {
        while (cl_a < cl_b && IS_WS((unsigned char)d[cl_a])) {
            cl_a++;
        }
        while (cl_b > cl_a && IS_WS((unsigned char)d[cl_b - 1])) {
            cl_b--;
        }
        if (cl_b == cl_a || cl_b - cl_a > 10) {
            goto fallback;
        }
        long long length = 0;
        for (Py_ssize_t i = cl_a; i < cl_b; i++) {
            if (!IS((unsigned char)d[i], C_DIGIT)) {
                goto fallback;
            }
            length = length * 10 + (d[i] - '0');
        }
        if (length > 0xFFFFFFFFLL || length > body_len) {
            goto fallback;
        }
        body_len = (Py_ssize_t)length;
        if ((o = PyLong_FromLongLong(length)) == NULL || PyDict_SetItem(cache, cl_key, o) < 0) {
            Py_XDECREF(o);
            goto error;
        }
        Py_DECREF(o);
    }
    if ((o = PyBytes_FromStringAndSize(d + body_start, body_len)) == NULL) {
        goto error;
    }
    set_slot(msg, ci, M_BODY, o);
    set_slot(msg, ci, M_HEADERS, headers);
    set_slot(msg, ci, M_NAMES, names);
    set_slot(msg, ci, M_CACHE, cache);
    Py_INCREF(Py_None);
    set_slot(msg, ci, M_RAW, Py_None);
    if ((o = PyList_New(0)) == NULL) {
        Py_DECREF(msg);
        return NULL;
    }
    set_slot(msg, ci, M_DEFECTS, o);
    Py_INCREF(s_version);
    set_slot(msg, ci, M_VERSION, s_version);
    return msg;

error_or_fallback:
    if (!PyErr_Occurred()) {
        goto fallback;
    }
error:
fallback:
    Py_XDECREF(headers);
    Py_XDECREF(names);
    Py_XDECREF(cache);
    Py_XDECREF(msg);
    return NULL;
}

/* frame(data, max_size, max_headers, max_line_length) -> Request | Response | None */
static PyObject *
py_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (check_args("frame", nargs, 4) < 0) {
        return NULL;
    }
    if (!PyBytes_CheckExact(args[0])) {
        Py_RETURN_NONE;
    }
    Py_ssize_t lim[3];
    for (int i = 0; i < 3; i++) {
        lim[i] = PyLong_AsSsize_t(args[i + 1]);
        if (lim[i] == -1 && PyErr_Occurred()) {
            return NULL;
        }
    }
    PyObject *result = frame_message(args[0], lim[0], lim[1], lim[2]);
    if (result == NULL && !PyErr_Occurred()) {
        Py_RETURN_NONE;
    }
    return result;
}

/* ------------------------------------------------------------------------ */

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)configure, METH_O, "Give the classes and tables to build with."},
    {"frame", (PyCFunction)(void (*)(void))py_frame, METH_FASTCALL,
     "frame(data, max_size, max_headers, max_line_length): a message, or None."},
    {"sip_uri", (PyCFunction)(void (*)(void))py_sip_uri, METH_FASTCALL,
     "sip_uri(fallback, text): URI.parse's usual case."},
    {"name_addr", (PyCFunction)(void (*)(void))py_name_addr, METH_FASTCALL,
     "name_addr(fallback, header, text): _parse_name_addr's usual case."},
    {"via", (PyCFunction)(void (*)(void))py_via, METH_FASTCALL,
     "via(fallback, text): Via.parse's usual case."},
    {"generic_params", (PyCFunction)(void (*)(void))py_generic_params, METH_FASTCALL,
     "generic_params(fallback, text): read_generic_params."},
    {"cseq", (PyCFunction)(void (*)(void))py_cseq, METH_FASTCALL,
     "cseq(fallback, text): CSeq.parse's usual case."},
    {"call_id", (PyCFunction)(void (*)(void))py_call_id, METH_FASTCALL,
     "call_id(fallback, text): a Call-ID value."},
    {"tokens", (PyCFunction)(void (*)(void))py_tokens, METH_FASTCALL,
     "tokens(fallback, text): a token list without whitespace."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "websip.sip._speedups",
    "Optional C versions of the SIP parser's hottest paths (see _speedups.c).", -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    init_ctab();
    s_sip = PyUnicode_InternFromString("sip");
    s_sips = PyUnicode_InternFromString("sips");
    s_SIP = PyUnicode_InternFromString("SIP");
    s_version = PyUnicode_InternFromString("SIP/2.0");
    if (s_sip == NULL || s_sips == NULL || s_SIP == NULL || s_version == NULL) {
        return NULL;
    }
    return PyModule_Create(&module_def);
}
