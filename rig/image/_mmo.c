/* The AES-MMO chain (Zigbee spec Annex B.6) in C: H_i = AES(key=H_{i-1}, M_i) XOR M_i.
 *
 * The key changes every block, so the loop cannot be handed to a bulk cipher mode, and a Python loop
 * over one cipher object per block costs about 1 us a block (1 s for a 4 MB image). This runs the same
 * loop over OpenSSL's AES (the library the `cryptography` package wraps). Padding and the incremental
 * state stay in rig/image/integrity.py, which falls back to its Python loop when this is not built.
 *
 * compress(h: bytes[16], blocks: bytes-like, len % 16 == 0) -> bytes[16]
 */
#define PY_SSIZE_T_CLEAN
#define OPENSSL_SUPPRESS_DEPRECATED /* AES_set_encrypt_key/AES_encrypt: the low-level API is what fits */
#include <Python.h>
#include <openssl/aes.h>
#include <string.h>

static PyObject *compress(PyObject *self, PyObject *args) {
    Py_buffer h, blocks;
    if (!PyArg_ParseTuple(args, "y*y*", &h, &blocks))
        return NULL;
    if (h.len != 16 || blocks.len % 16 != 0) {
        PyBuffer_Release(&h);
        PyBuffer_Release(&blocks);
        PyErr_SetString(PyExc_ValueError, "compress: h must be 16 bytes and blocks a multiple of 16 bytes");
        return NULL;
    }
    unsigned char state[16], out[16];
    memcpy(state, h.buf, 16);
    const unsigned char *m = (const unsigned char *)blocks.buf;
    Py_ssize_t n = blocks.len;
    Py_BEGIN_ALLOW_THREADS
    AES_KEY key;
    for (Py_ssize_t i = 0; i < n; i += 16) {
        AES_set_encrypt_key(state, 128, &key);
        AES_encrypt(m + i, out, &key);
        for (int j = 0; j < 16; j++)
            state[j] = out[j] ^ m[i + j];
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&h);
    PyBuffer_Release(&blocks);
    return PyBytes_FromStringAndSize((const char *)state, 16);
}

static PyMethodDef methods[] = {
    {"compress", compress, METH_VARARGS, "Run the AES-MMO chain from state h over whole 16-byte blocks."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_mmo", "AES-MMO chain over OpenSSL's AES.", -1, methods};

PyMODINIT_FUNC PyInit__mmo(void) { return PyModule_Create(&module); }
