/* The part of the core library written in ivm's own language: the
 * functions that make functions (comp, partial, constantly, ...), which
 * natives cannot, since only compiled code makes closures, and the few
 * others most simply written on top of the natives (printf, clojure.set).
 * Compiled into every VM by ivm_compiler_install; a function here shows
 * in an error's trace as "at NAME (prelude:LINE)". */
#ifndef IVM_PRELUDE_H
#define IVM_PRELUDE_H

static const char ivm_prelude[] =
    "(defn comp\n"
    "  ([] identity)\n"
    "  ([f] f)\n"
    "  ([f g] (fn [& args] (f (apply g args))))\n"
    "  ([f g & fs] (reduce comp (comp f g) fs)))\n"
    "(defn partial\n"
    "  ([f] f)\n"
    "  ([f & args] (fn [& more] (apply f (concat args more)))))\n"
    "(defn constantly [x] (fn [& _] x))\n"
    "(defn complement [f] (fn [& args] (not (apply f args))))\n"
    "(defn juxt [& fs] (fn [& args] (mapv (fn [f] (apply f args)) fs)))\n"
    "(defn fnil [f default] (fn [x & more] (apply f (if (nil? x) default x) more)))\n"
    "(defn every-pred [& ps] (fn [& args] (every? (fn [p] (every? p args)) ps)))\n"
    "(defn some-fn [& ps] (fn [& args] (some (fn [p] (some p args)) ps)))\n"
    "(defn printf [fmt & args] (print (apply format fmt args)))\n"
    ";; clojure.set\n"
    "(defn clojure.set/union ([] #{}) ([a] a) ([a b & more] (reduce into (into a b) more)))\n"
    "(defn clojure.set/intersection\n"
    "  ([a] a)\n"
    "  ([a b & more] (reduce (fn [acc s] (set (filter s acc))) (set (filter b a)) more)))\n"
    "(defn clojure.set/difference\n"
    "  ([a] a)\n"
    "  ([a b & more] (reduce (fn [acc s] (set (remove s acc))) (set (remove b a)) more)))\n"
    "(defn clojure.set/subset? [a b] (every? b a))\n"
    "(defn clojure.set/superset? [a b] (every? a b))\n"
    "(defn clojure.set/select [pred s] (set (filter pred s)))\n"
    "(defn clojure.set/map-invert [m] (into {} (map (fn [[k v]] [v k]) m)))\n";

#endif
