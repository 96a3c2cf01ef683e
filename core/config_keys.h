/*
 * config_keys.h — the key table of the trial config. Internal to config.c and
 * config_keys.c; other modules use config.h.
 *
 * Every key of a trial config is one row: its path, its type, its bounds,
 * where it lives in pt_config (offsetof) and a line of documentation. The
 * table is what config.c parses against and serialises from, and what the
 * "expected ..." part of every error message is written from, so a key's
 * name, type and limits are written once in C (and once for users, in
 * schemas/train.schema.json, which tests/test_config.c checks against
 * pt_config_key()).
 *
 * The rows and their enum name lists are static and constant; nothing here
 * allocates or fails. Fields are reached through offsets and casts checked by
 * the row's type tag rather than by the compiler; the static asserts below pin
 * the one assumption this needs (the config's enums are int-sized).
 */
#ifndef PT_CONFIG_KEYS_H
#define PT_CONFIG_KEYS_H

#include <stddef.h>

#include "config.h"

_Static_assert(sizeof(pt_data_format) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_scale) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_opt_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_lr_kind) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_prune_schedule) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_granularity) == sizeof(int), "enums are stored as int");
_Static_assert(sizeof(pt_norm) == sizeof(int), "enums are stored as int");

/* How a row's value is read from JSON and stored at its offset(s). */
typedef enum {
    PT_KEY_NUM,    /* double */
    PT_KEY_INT,    /* int, integral JSON number */
    PT_KEY_SEED,   /* uint64_t in [0, 2^53 - 1] */
    PT_KEY_BOOL,   /* int 0/1 from true/false */
    PT_KEY_STR,    /* char[size] */
    PT_KEY_ENUM,   /* int-sized enum, from one of `names` */
    PT_KEY_HIDDEN, /* int count at off, int array[size] at off2 */
    PT_KEY_LAYERS, /* pt_layer_values at off: a number, or an array of at most size */
    PT_KEY_LABEL,  /* string -> char[size] at off (index -1), integer -> int at off2 */
    PT_KEY_HEADER, /* true/false/"auto" -> 1/0/-1 */
    PT_KEY_IGNORE, /* accepted when a string, not stored ("$schema") */
    PT_KEY_NET,    /* net.layers: pt_net_config at off (netspec.h) */
    PT_KEY_SCHED   /* pt_hp_schedule at off: [[epoch, value], ...] */
} pt_key_type;

enum { PT_BOUND_NONE, PT_BOUND_INCL, PT_BOUND_EXCL }; /* kind of a lower or upper bound */

/* One JSON string of an enum key and the value it stands for; lists end
 * with a NULL name. */
typedef struct {
    const char *name;
    int value;
} pt_enum_name;

typedef struct {
    const char *path; /* full key path, "train.lr" */
    pt_key_type type;
    char lo_kind, hi_kind; /* PT_BOUND_* */
    double lo, hi;         /* for PT_KEY_HIDDEN and PT_KEY_LAYERS: bounds of each element */
    size_t off, off2, size;
    const pt_enum_name *names; /* PT_KEY_ENUM only */
    const char *doc;
} pt_key_def;

/* The i-th row, in the order keys are printed ("$schema" first), or NULL when
 * i is out of range. */
const pt_key_def *pt_key_at(int i);

/* The row whose path is exactly path, or NULL. */
const pt_key_def *pt_key_find(const char *path);

/* Writes the WHAT of "expected WHAT" for a value of k into buf (n bytes,
 * cut to fit), from the row alone: "a number > 0 and <= 10". */
void pt_key_describe(const pt_key_def *k, char *buf, size_t n);

/* The same for one element of a PT_KEY_HIDDEN or PT_KEY_LAYERS array:
 * "an integer >= 1 and <= 65536", "a number >= 0 and < 1". */
void pt_key_describe_element(const pt_key_def *k, char *buf, size_t n);

#endif
