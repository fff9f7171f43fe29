/* jscan (private to promote/): one strict RFC 8259 pass over raw JSON bytes. It allocates
 * nothing and builds no tree: the caller marks the containers it cares about with a non-zero
 * `node` and gets hooks only inside those; everything else is validated at full speed.
 * UTF-8 inside strings is not validated (the bytes pass through untouched either way). */
#ifndef TB_JSCAN_H
#define TB_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jscan_frame {
    int node; /* caller's kind of this container; 0 = not interesting */
    bool is_obj;
    unsigned count; /* members / elements seen so far */
    size_t off;     /* offset of '{' or '[' */
    int user;       /* free for the caller (set in open) */
};

struct jscan;

/* Hooks run only where the parent container (or, for the root, root_node) is non-zero. */
struct jscan_hooks {
    /* An object key (raw bytes between the quotes, `esc` when it holds a backslash) at key_off
     * (offset of the opening quote); returns the node for its value (0 = ignore). */
    int (*key)(struct jscan *s, struct jscan_frame *parent, const char *raw, size_t n, bool esc,
               size_t key_off);
    /* An array element; returns its node. */
    int (*elem)(struct jscan *s, struct jscan_frame *parent, unsigned idx);
    /* A container with node != 0 opened (f->off is set; f->user may be set). */
    void (*open)(struct jscan *s, struct jscan_frame *parent, struct jscan_frame *f);
    /* A value with node != 0 ended: type is one of { [ " n t f 0 (null); [off, end) its bytes.
     * For containers, f is the closing frame, else NULL. */
    void (*value)(struct jscan *s, struct jscan_frame *parent, int node, char type, size_t off,
                  size_t end, struct jscan_frame *f);
};

struct jscan {
    const char *p;
    size_t n;
    const struct jscan_hooks *h;
    void *user;
    const char *abort; /* a hook sets this to stop the scan (fail open) */
    unsigned max_depth;
    struct jscan_frame *stack; /* max_depth + 1 frames, owned by the caller */
};

/* Scans p[0..n) as one JSON document whose root value has node root_node. 0, or -EPROTO with
 * *why set (static string). */
int jscan_run(struct jscan *s, int root_node, const char **why);

/* Decodes the JSON string body raw[0..n) (between quotes) into out (cap bytes incl. NUL).
 * Control bytes are kept. Returns the decoded length, or -1 if it does not fit or is malformed. */
long json_unescape(const char *raw, size_t n, char *out, size_t cap);

#endif
