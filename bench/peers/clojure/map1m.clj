;; Issue 4's map benchmark in Clojure: build a map of 1,000,000 integer keys
;; one assoc at a time, then look each key up once and sum the values.
;; Prints "1000000 499999500000" on stdout, and on stderr the time of that
;; work measured inside the JVM with (time ...). N (default 1000000; the
;; first argument, as bench/programs/map1m.iv's) is the number of elements;
;; the optional second argument runs the work that many times in the same
;; JVM (the later runs show the JIT warm).
;; Run: clojure bench/peers/clojure/map1m.clj [N [RUNS]]
(defn build [n]
  (loop [i 0 m {}]
    (if (< i n)
      (recur (inc i) (assoc m i i))
      m)))

(defn sum-lookups [m n]
  (loop [i 0 sum 0]
    (if (< i n)
      (recur (inc i) (+ sum (get m i)))
      sum)))

(defn run [n]
  (let [m (build n)]
    [(count m) (sum-lookups m n)]))

(let [n (if-let [a (first *command-line-args*)] (Long/parseLong a) 1000000)
      runs (if-let [a (second *command-line-args*)] (Long/parseLong a) 1)
      result (last (for [_ (range runs)]
                     (binding [*out* *err*] (time (run n)))))]
  (apply println result))
