/* SPDX-License-Identifier: Apache-2.0 */
/* list: the intrusive list, its order and both directions of links checked after inserts
 * at both ends, removals from the middle and the ends, and removal while iterating. */
#include "extension/base/base.h"

#include "tests/lib/tap.h"

struct item {
    int v;
    struct tb_list link;
};

/* The values in list order as "1,2,3"; also checks that every prev pointer mirrors next. */
static const char *show(const struct tb_list *h, char *out, size_t cap, bool *linked)
{
    const struct tb_list *it;
    size_t n = 0;

    out[0] = '\0';
    *linked = true;
    tb_list_foreach(it, h) {
        n += (size_t)snprintf(out + n, cap - n, "%s%d", n ? "," : "",
                              tb_list_entry(it, const struct item, link)->v);
        *linked = *linked && it->next->prev == it && it->prev->next == it;
    }
    return out;
}

int main(void)
{
    struct tap t = TAP_INIT;
    struct item items[5];
    struct tb_list h;
    struct tb_list *it;
    struct tb_list *tmp;
    char s[64];
    bool linked;

    tb_list_init(&h);
    ok(&t, tb_list_empty(&h), "a new list is empty");
    for (int i = 0; i < 5; i++)
        items[i].v = i;
    tb_list_insert_tail(&h, &items[2].link);
    tb_list_insert_head(&h, &items[1].link);
    tb_list_insert_tail(&h, &items[3].link);
    tb_list_insert_head(&h, &items[0].link);
    tb_list_insert_tail(&h, &items[4].link);
    is_str(&t, show(&h, s, sizeof(s), &linked), "0,1,2,3,4", "head and tail inserts in order");
    ok(&t, linked && !tb_list_empty(&h), "links consistent both ways");
    tb_list_remove(&items[2].link);
    is_str(&t, show(&h, s, sizeof(s), &linked), "0,1,3,4", "removed from the middle");
    ok(&t, items[2].link.next == &items[2].link, "a removed link is in no list");
    tb_list_remove(&items[2].link);
    is_str(&t, show(&h, s, sizeof(s), &linked), "0,1,3,4", "removing it again changes nothing");
    tb_list_remove(&items[0].link);
    tb_list_remove(&items[4].link);
    is_str(&t, show(&h, s, sizeof(s), &linked), "1,3", "removed first and last");
    ok(&t, linked, "links consistent after the removals");
    tb_list_foreach_safe(it, tmp, &h)
        tb_list_remove(it);
    ok(&t, tb_list_empty(&h) && h.prev == &h, "unlinking every element while iterating empties it");
    return tap_done(&t);
}
